"""A whole distributed NoETL on this machine: PostgreSQL, NATS, the server and N workers.

`noetl dev up` runs one for a person; the fault tests run one to kill parts of it. PostgreSQL
and NATS come from the wheels (see `local_services`) and keep their data under `home`, so a
cluster started again on the same home finds its executions. The server and the workers are
`noetl` subprocesses (logs in `home/logs/`) and, on Linux, die with the process that started
them: start the cluster from a thread that lives as long as it should (the main thread).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from noetl.config import child_environment
from noetl.devservers.processes import die_with_parent, free_port
from noetl.devservers.services import LocalNats, LocalPostgres
from noetl.errors import LocalServiceError

_HOST = "127.0.0.1"
_READY_TIMEOUT = 30.0  # seconds the server gets to answer /health
_STOP_TIMEOUT = 15.0  # seconds a process gets to drain and exit before it is killed
_NOETL = ("-c", "from noetl.cli.app import main; main()")  # `noetl` of this interpreter


@dataclass
class DevCluster:
    """Local PostgreSQL + NATS + one server + worker processes, all under `home`."""

    home: Path
    postgres: LocalPostgres
    nats: LocalNats
    port: int
    concurrency: int = 16
    ack_wait: int = 30
    heartbeat: int = 5  # seconds between the workers' heartbeats
    logging: tuple[str, ...] = ()  # --log-level / --log-format of the server and the workers
    # Tokens go to the processes in their environment (never as flags: flags show in `ps`);
    # workers get only theirs. None: the processes inherit this one's environment unchanged.
    api_token: str | None = None
    worker_token: str | None = None
    server: subprocess.Popen[bytes] | None = None
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    replicas: list[tuple[subprocess.Popen[bytes], int]] = field(default_factory=list)
    # How each worker process was started (command, log file, folder): a replacement is
    # started the same way, with the same server, pool and name.
    _spawned: dict[subprocess.Popen[bytes], tuple[list[str], str, Path | None]] = field(
        default_factory=dict, init=False, repr=False
    )

    @property
    def server_url(self) -> str:
        """Base URL of the server's REST API (`/api/v2/...`) and docs (`/docs`)."""
        return f"http://{_HOST}:{self.port}"

    @classmethod
    def start(
        cls,
        home: Path,
        *,
        workers: int = 2,
        port: int = 0,
        concurrency: int = 16,
        ack_wait: int = 30,
        durable: bool = True,
        heartbeat: int = 5,
        logging: tuple[str, ...] = (),
        api_token: str | None = None,
        worker_token: str | None = None,
    ) -> DevCluster:
        """Start everything and wait until the server answers; `port` 0 picks a free one. With
        `api_token` the server requires it (and accepts `worker_token`, which the workers send)."""
        home = Path(home).resolve()
        (home / "logs").mkdir(parents=True, exist_ok=True)
        postgres = LocalPostgres.start(home / "postgres", durable=durable)
        try:
            nats = LocalNats.start(home / "nats")
        except BaseException:
            postgres.stop()
            raise
        cluster = cls(
            home,
            postgres,
            nats,
            port or free_port(),
            concurrency,
            ack_wait,
            heartbeat,
            logging,
            api_token,
            worker_token,
        )
        try:
            cluster.start_server()
            for _ in range(workers):
                cluster.add_worker()
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def start_server(self) -> None:
        """Start the server (again, after `stop_server`) and wait until it answers /health."""
        command = ["server", "start", "--host", _HOST, "--port", str(self.port)]
        command += ["--pg", self.postgres.dsn, "--nats", self.nats.url]
        command += ["--home", str(self.home), "--ack-wait", str(self.ack_wait), *self.logging]
        self.server = self._spawn(command, "server.log", environment=self._server_tokens())
        self._wait_healthy(self.server, self.port)

    def add_replica(self) -> str:
        """Start one more server on the same database and NATS (a replica, home
        `home/replica-N`, log `replica-N.log`) and wait until it answers; its base URL."""
        index = len(self.replicas) + 1
        port = free_port()
        command = ["server", "start", "--host", _HOST, "--port", str(port)]
        command += ["--pg", self.postgres.dsn, "--nats", self.nats.url]
        command += ["--home", str(self.home / f"replica-{index}"), "--ack-wait"]
        command += [str(self.ack_wait), *self.logging]
        replica = self._spawn(command, f"replica-{index}.log", environment=self._server_tokens())
        self.replicas.append((replica, port))
        self._wait_healthy(replica, port)
        return f"http://{_HOST}:{port}"

    def stop_server(self, sig: int = signal.SIGTERM) -> None:
        """Stop the server with `sig` (SIGKILL: a crash) and wait until it has exited."""
        if self.server is not None:
            _stop(self.server, sig)
            self.server = None

    def add_worker(
        self,
        cwd: Path | None = None,
        *,
        worker_id: str | None = None,
        pool: str = "default",
        server_url: str | None = None,
    ) -> subprocess.Popen[bytes]:
        """Start one more worker process of `pool` (in folder `cwd`, when given: a worker
        needs no local files, so where it runs does not matter), named `worker_id` (default
        `worker-N`, logging to `worker-N.log`), talking to `server_url` (default the first
        server; a replica's URL from `add_replica`)."""
        index = len(self.workers)
        name = worker_id or f"worker-{index + 1}"
        log = f"{name}.log"
        command = self._worker_command(name, pool, server_url)
        worker = self._spawn(command, log, cwd, self._worker_tokens())
        self._spawned[worker] = (command, log, cwd)
        self.workers.append(worker)
        return worker

    def replace_dead_workers(self) -> list[tuple[int, int]]:
        """Start a new worker in place of each worker process that exited, as that one was
        started (its server, pool, name and folder); the (index, exit code) of those that
        did. Its log goes on in the same file."""
        replaced = []
        for index, worker in enumerate(self.workers):
            code = worker.poll()
            if code is not None:
                command, log, cwd = self._spawned.pop(worker)
                self.workers[index] = self._spawn(command, log, cwd, self._worker_tokens())
                self._spawned[self.workers[index]] = (command, log, cwd)
                replaced.append((index, code))
        return replaced

    def worker_log(self, index: int) -> str:
        """File name (under `home/logs`) of worker `index`'s output."""
        return self._spawned[self.workers[index]][1]

    def _worker_command(
        self, name: str, pool: str = "default", server_url: str | None = None
    ) -> list[str]:
        return [
            *("worker", "start", "--server", server_url or self.server_url),
            *("--nats", self.nats.url, "--pool", pool),
            *("--concurrency", str(self.concurrency), "--ack-wait", str(self.ack_wait)),
            *("--worker-id", name, "--heartbeat", str(self.heartbeat), *self.logging),
        ]

    def _server_tokens(self) -> dict[str, str | None]:
        """A server's token settings: both tokens."""
        return {"NOETL_API_TOKEN": self.api_token, "NOETL_WORKER_TOKEN": self.worker_token}

    def _worker_tokens(self) -> dict[str, str | None]:
        """A worker's token settings: the worker token, never the admin one."""
        return {"NOETL_API_TOKEN": None, "NOETL_WORKER_TOKEN": self.worker_token}

    def stop(self) -> None:
        """Stop the workers (they drain), the servers, NATS and PostgreSQL, in that order."""
        for worker in self.workers:
            worker.send_signal(signal.SIGTERM)
        for worker in self.workers:
            _stop(worker, signal.SIGTERM)
        self.workers.clear()
        self._spawned.clear()
        for replica, _ in self.replicas:
            _stop(replica, signal.SIGTERM)
        self.replicas.clear()
        self.stop_server()
        self.nats.stop()
        self.postgres.stop()

    def _spawn(
        self,
        arguments: list[str],
        log_name: str,
        cwd: Path | None = None,
        environment: dict[str, str | None] | None = None,
    ) -> subprocess.Popen[bytes]:
        # Without tokens the process inherits this one's environment as it is.
        changed = environment if environment is not None and self.api_token else None
        with (self.home / "logs" / log_name).open("ab") as log:
            return subprocess.Popen(
                [sys.executable, *_NOETL, *arguments],
                cwd=cwd,
                env=None if changed is None else child_environment(changed),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=die_with_parent(signal.SIGTERM),
            )

    def _wait_healthy(self, process: subprocess.Popen[bytes], port: int) -> None:
        deadline = time.monotonic() + _READY_TIMEOUT
        url = f"http://{_HOST}:{port}/api/v2/health"
        while True:
            try:
                with urllib.request.urlopen(url, timeout=1.0) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                state = "exited" if process.poll() is not None else "did not answer in time"
                raise LocalServiceError(f"NoETL server {state}; see {self.home / 'logs'}")
            time.sleep(0.1)


def _stop(process: subprocess.Popen[bytes], sig: int) -> None:
    """Signal `process`, wait for it to exit, kill it when it takes too long."""
    if process.poll() is None:
        process.send_signal(sig)
    try:
        process.wait(_STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(_STOP_TIMEOUT)
