"""Two server replicas on one PostgreSQL database and one NATS stream, each with its own worker.

Executions are started on both replicas; every command goes to whichever worker fetches it, and
that worker claims and reports through its own replica. So a replica decides events of
executions the other one started: appends are serialised by `seq` (a loser rebuilds from the log
and decides again) and claims are recorded in the database (one winner). Every execution must end
`done` with the right result, and every step run must have exactly one terminal event.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from noetl.client.transport import ServerClient
from noetl.devservers.cluster import DevCluster
from noetl.devservers.processes import free_port
from noetl.errors import RemoteError
from support.event_log import assert_one_ending_per_step_run

EXECUTIONS = 40
CHAIN = """\
apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: replicas, path: tests/replicas/chain}
workload: {n: 0}
workflow:
  - step: start
    tool:
      kind: python
      args: {n: "{{ workload.n }}"}
      code: "import time; time.sleep(0.05); result = n"
    next: [{step: double}]
  - step: double
    tool: {kind: python, args: {n: "{{ start }}"}, code: "result = n * 2"}
    next: [{step: inc}]
  - step: inc
    tool: {kind: python, args: {n: "{{ double }}"}, code: "result = n + 1"}
"""
NOETL = [sys.executable, "-c", "from noetl.cli.app import main; main()"]


@pytest.fixture()
def replicas(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Server A (the dev cluster's) and server B on the same database and NATS, one worker each."""
    cluster = DevCluster.start(tmp_path / "a", workers=0, port=0, ack_wait=5, durable=False)
    extra: list[subprocess.Popen[bytes]] = []
    try:
        cluster.add_worker()
        url_b = f"http://127.0.0.1:{free_port()}"
        server_b = [*NOETL, "server", "start", "--port", url_b.rsplit(":", 1)[1]]
        server_b += ["--pg", cluster.postgres.dsn, "--nats", cluster.nats.url]
        server_b += ["--home", str(tmp_path / "b"), "--ack-wait", "5"]
        extra.append(_spawn(server_b, tmp_path / "server-b.log"))
        asyncio.run(_until_healthy(url_b))
        worker_b = [*NOETL, "worker", "start", "--server", url_b, "--nats", cluster.nats.url]
        extra.append(_spawn([*worker_b, "--ack-wait", "5"], tmp_path / "worker-b.log"))
        for log in (cluster.home / "logs" / "worker-1.log", tmp_path / "worker-b.log"):
            _until_listening(log)
        yield cluster.server_url, url_b
    finally:
        for process in reversed(extra):  # the worker first: it drains through its server
            process.terminate()
            process.wait(30)
        cluster.stop()


def _spawn(command: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)


def _until_listening(log: Path) -> None:
    """Wait for the worker's start line (it prints it once it fetches from NATS)."""
    deadline = time.monotonic() + 60
    while "worker: pool" not in log.read_text(errors="replace"):
        assert time.monotonic() < deadline, f"worker did not start; see {log}"
        time.sleep(0.1)


async def _until_healthy(url: str) -> None:
    client = ServerClient(url)
    try:
        for _ in range(300):
            try:
                await client.health()
                return
            except RemoteError:
                await asyncio.sleep(0.1)
        raise AssertionError(f"server at {url} did not start")
    finally:
        await client.aclose()


def test_two_replicas_share_the_work_and_the_log(replicas: tuple[str, str]):
    asyncio.run(_scenario(*replicas))


async def _scenario(url_a: str, url_b: str) -> None:
    a, b = ServerClient(url_a), ServerClient(url_b)
    try:
        ids = [
            await (a if i % 2 else b).start(playbook=CHAIN, payload={"n": i})
            for i in range(EXECUTIONS)
        ]
        deadline = time.monotonic() + 120
        while await a.executions(status="running", limit=1):
            assert time.monotonic() < deadline, "executions still running after 120 s"
            await asyncio.sleep(0.2)
        for i, execution_id in enumerate(ids):
            summary = await (b if i % 2 else a).execution(execution_id)  # the other replica
            assert (summary["status"], summary["result"]) == ("done", 2 * i + 1), summary
            assert_one_ending_per_step_run(execution_id, await a.events(execution_id))
        # Both replicas handed out commands (so each decided events of executions the other
        # started), and every step run was given to a worker (claimed or handed off) in all.
        won = [await _claims_won(url) for url in (url_a, url_b)]
        assert min(won) > 0 and sum(won) >= EXECUTIONS * 3, won
    finally:
        await a.aclose()
        await b.aclose()


async def _claims_won(url: str) -> float:
    """Commands given to a worker by this replica: claims won and commands handed off."""
    async with httpx.AsyncClient(base_url=url) as http:
        text = (await http.get("/metrics")).text
    given = ('noetl_claims_total{outcome="won"}', 'noetl_claims_total{outcome="handed"}')
    return sum(float(x.split()[-1]) for x in text.splitlines() if x.startswith(given))
