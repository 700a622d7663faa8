"""Faults of the distributed mode on a real local cluster (PostgreSQL, NATS, server, 2 workers).

Each test starts 50 executions of a three-step playbook, breaks something while they run, and
then checks that every execution ends `done` with the right result and that every step run has
exactly one terminal event in the log (at-least-once execution, exactly-once effect).
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest

from noetl.client.transport import ServerClient
from noetl.devservers.cluster import DevCluster
from support.event_log import assert_one_ending_per_step_run

EXECUTIONS = 50
PATIENCE = 120.0  # seconds the whole batch may take to finish after a fault
CHAIN = """\
apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: chain, path: tests/faults/chain}
workload: {n: 0}
workflow:
  - step: start
    tool:
      kind: python
      args: {n: "{{ workload.n }}"}
      code: |
        import time
        time.sleep(0.2)
        result = n
    next: [{step: double}]
  - step: double
    tool:
      kind: python
      args: {n: "{{ start }}"}
      code: |
        import time
        time.sleep(0.2)
        result = n * 2
    next: [{step: inc}]
  - step: inc
    tool:
      kind: python
      args: {n: "{{ double }}"}
      code: |
        import time
        time.sleep(0.2)
        result = n + 1
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevCluster]:
    """One cluster for the module; each test leaves it with a server and two live workers."""
    home = tmp_path_factory.mktemp("cluster")
    # A short lease, so work of a killed worker is redelivered within seconds.
    running = DevCluster.start(home, workers=2, port=0, ack_wait=3, durable=False)
    try:
        yield running
    finally:
        running.stop()


def run_with_fault(cluster: DevCluster, fault: Callable[[], None]) -> list[dict[str, Any]]:
    """Start the batch, apply `fault` once some steps are done, return the final summaries."""

    async def scenario() -> list[dict[str, Any]]:
        client = ServerClient(cluster.server_url)
        try:
            ids = [await client.start(playbook=CHAIN, payload={"n": i}) for i in range(EXECUTIONS)]
            await _until(lambda: _steps_done(client, ids[:10], at_least=3))
            # In this (main) thread: processes the fault starts die with the thread that did.
            fault()
            deadline = time.monotonic() + PATIENCE
            summaries = []
            for execution_id in ids:
                summary = await _retrying(lambda e=execution_id: client.wait(e, poll=0.2))
                assert time.monotonic() < deadline, "the batch did not finish in time"
                summaries.append(summary)
            for summary in summaries:
                await _check_log(client, summary["execution_id"])
            return summaries
        finally:
            await client.aclose()

    return asyncio.run(scenario())


async def _steps_done(client: ServerClient, ids: list[str], at_least: int) -> bool:
    done = 0
    for execution_id in ids:
        events = await client.events(execution_id)
        done += sum(1 for e in events if e["type"] == "step.done")
    return done >= at_least


async def _until(check: Callable[[], Awaitable[bool]], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "no progress before the fault"
        await asyncio.sleep(0.1)


async def _retrying(call: Callable[[], Awaitable[Any]]) -> Any:
    """`call()`, retried while the server is down (the server-kill test restarts it)."""
    from noetl.errors import RemoteError

    for _ in range(600):
        try:
            return await call()
        except RemoteError:
            await asyncio.sleep(0.1)
    raise AssertionError("server unreachable for a minute")


async def _check_log(client: ServerClient, execution_id: str) -> None:
    """Every step run (one issued command) ended with exactly one terminal event."""
    events = await client.events(execution_id)
    assert_one_ending_per_step_run(execution_id, events)
    started = sorted(e["step"] for e in events if e["type"] == "step.started")
    assert started == ["double", "inc", "start"]


def assert_all_done(summaries: list[dict[str, Any]]) -> None:
    assert [s["status"] for s in summaries] == ["done"] * EXECUTIONS
    assert [s["result"] for s in summaries] == [2 * i + 1 for i in range(EXECUTIONS)]


def test_sigkill_a_worker_mid_run(cluster: DevCluster):
    victim = cluster.workers[0]

    def kill_worker() -> None:
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)

    summaries = run_with_fault(cluster, kill_worker)
    assert_all_done(summaries)
    assert cluster.workers[1].poll() is None  # the other worker did the rest
    cluster.workers.remove(victim)
    cluster.add_worker()


def test_sigkill_the_server_and_start_it_again(cluster: DevCluster):
    def crash_and_restart() -> None:
        cluster.stop_server(signal.SIGKILL)
        time.sleep(1.0)  # workers now fail to reach it and keep retrying
        cluster.start_server()

    assert_all_done(run_with_fault(cluster, crash_and_restart))
    assert all(worker.poll() is None for worker in cluster.workers)


def test_restart_nats_mid_run(cluster: DevCluster):
    assert_all_done(run_with_fault(cluster, cluster.nats.restart))
    assert all(worker.poll() is None for worker in cluster.workers)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["crash", "fast-shutdown"])
def test_restart_postgres_mid_run(cluster: DevCluster, sig: int):
    """The event log's database goes away for 2 s under load: reports that could not be
    written are answered 503 and retried by the workers, nothing is dropped, the server is
    not restarted."""
    server = cluster.server
    assert_all_done(run_with_fault(cluster, lambda: cluster.postgres.restart(sig, down=2.0)))
    assert cluster.server is server and server is not None and server.poll() is None
    assert all(worker.poll() is None for worker in cluster.workers)


def test_worker_drains_running_work_on_sigterm(cluster: DevCluster):
    """SIGTERM: the worker finishes what it runs, reports it and exits 0."""
    leaving = cluster.workers[0]

    def stop_worker() -> None:
        leaving.send_signal(signal.SIGTERM)
        assert leaving.wait(30) == 0

    assert_all_done(run_with_fault(cluster, stop_worker))
    cluster.workers.remove(leaving)
    cluster.add_worker()


HANDED = """\
apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: handed, path: tests/faults/handed}
workflow:
  - step: start
    tool: {kind: python, code: "result = 20"}
    next: [{step: second}]
  - step: second
    tool:
      kind: python
      args: {n: "{{ start }}"}
      code: |
        import time
        time.sleep(1.0)
        result = n + 1
"""


def test_sigkill_the_worker_holding_a_handed_off_command(tmp_path):
    """One worker, one slot: `second` is handed to it with its report of `start`. It dies
    while running it; the server's lease runs out, NATS delivers the command to a new worker."""
    lone = DevCluster.start(tmp_path, workers=1, port=0, concurrency=1, ack_wait=3, durable=False)

    async def scenario() -> tuple[dict[str, Any], list[dict[str, Any]]]:
        client = ServerClient(lone.server_url)
        try:
            execution_id = await client.start(playbook=HANDED)
            await _until(lambda: _steps_done(client, [execution_id], at_least=1))
            lone.workers[0].send_signal(signal.SIGKILL)
            lone.workers[0].wait(10)
            lone.add_worker()
            summary = await asyncio.wait_for(client.wait(execution_id), PATIENCE)
            return summary, await client.events(execution_id)
        finally:
            await client.aclose()

    try:
        summary, events = asyncio.run(scenario())
        server_log = (tmp_path / "logs" / "server.log").read_text()
    finally:
        lone.stop()
    assert (summary["status"], summary["result"]) == ("done", 21)
    assert_one_ending_per_step_run(summary["execution_id"], events)
    assert "ran out on its worker; delivering it again" in server_log


LONG = """\
apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: long, path: tests/faults/long}
workflow:
  - step: start
    tool: {kind: python, code: "import time; time.sleep(8); result = 'slow'"}
    next: [{step: second}]
  - step: second
    tool: {kind: python, code: "import time; time.sleep(8); result = 'slower'"}
"""


def test_steps_longer_than_the_lease_stay_with_their_worker(cluster: DevCluster):
    """Both steps run for more than two leases (`ack_wait` 3 s): the first delivered through
    NATS, the second handed off. The worker renews each with its claim token, so neither is
    claimed again or run twice."""

    async def scenario() -> tuple[dict[str, Any], list[dict[str, Any]]]:
        client = ServerClient(cluster.server_url)
        try:
            execution_id = await client.start(playbook=LONG)
            summary = await asyncio.wait_for(client.wait(execution_id), PATIENCE)
            return summary, await client.events(execution_id)
        finally:
            await client.aclose()

    summary, events = asyncio.run(scenario())
    assert (summary["status"], summary["result"]) == ("done", "slower")
    claims = [e["step"] for e in events if e["type"] == "command.claimed"]
    assert claims == ["start", "second"]  # one claim each: no lease ran out
    assert [e["step"] for e in events if e["type"] == "command.started"] == claims
    assert_one_ending_per_step_run(summary["execution_id"], events)
