"""An execution that ends stops its commands running on remote workers (real local cluster).

The steps under test call the test HTTP server's `/hang`, which holds the request open and notes
when the client hangs up: that is the worker's running task being cancelled, seen from outside
its process. Waits are generous (what must happen gets tens of seconds); nothing is timed tightly.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import nats
import pytest
from http_server import LocalHttpServer

from noetl.client.transport import ServerClient
from noetl.devservers.cluster import DevCluster

pytestmark = pytest.mark.integration

PATIENCE = 30.0  # seconds for what must happen; a hanging request would last 120
SLOTS = 2  # one worker process with two slots

HANG = """\
apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: hang, path: tests/cancel/hang}
workload: {url: "", key: "", mark: ""}
workflow:
  - step: start
    tool:
      - wait:
          kind: http
          url: "{{ workload.url }}/hang"
          params: {key: "{{ workload.key }}", ms: 120000}
          timeout: 150
      - mark:
          kind: python
          args: {path: "{{ workload.mark }}"}
          code: "open(path, 'w').write('the step ran to its end')"
"""

# `hang` and `boom` run side by side; `boom` fails once the test lets it (after `hang` started).
FAIL_BESIDE = """\
apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: fail_beside, path: tests/cancel/fail_beside}
workload: {url: "", key: "", go: ""}
workflow:
  - step: start
    spec: {next_mode: inclusive}
    next: [hang, boom]
  - step: hang
    tool:
      kind: http
      url: "{{ workload.url }}/hang"
      params: {key: "{{ workload.key }}", ms: 120000}
      timeout: 150
  - step: boom
    tool:
      kind: python
      args: {go: "{{ workload.go }}"}
      code: |
        import os, time
        deadline = time.monotonic() + 120
        while not os.path.exists(go) and time.monotonic() < deadline:
            time.sleep(0.05)
        raise RuntimeError("boom")
"""

QUICK = """\
apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: quick, path: tests/cancel/quick}
workflow:
  - step: start
    tool: {kind: python, code: "result = 42"}
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevCluster]:
    home = tmp_path_factory.mktemp("cancel-cluster")
    running = DevCluster.start(home, workers=1, concurrency=SLOTS, port=0, durable=False)
    try:
        yield running
    finally:
        running.stop()


def test_cancelling_stops_the_commands_running_on_a_worker(cluster, http_server, tmp_path):
    keys = [f"cancel-{uuid.uuid4().hex}" for _ in range(SLOTS)]  # enough to fill every slot
    marks = [tmp_path / f"{key}.mark" for key in keys]

    async def scenario() -> tuple[list[dict[str, Any]], dict[str, Any], list[dict[str, Any]]]:
        client = ServerClient(cluster.server_url)
        try:
            ids = []
            for key, mark in zip(keys, marks, strict=True):
                workload = {"url": http_server.url, "key": key, "mark": str(mark)}
                ids.append(await client.start(playbook=HANG, payload=workload))
            await _until(lambda: _all_in(http_server, keys, "waiting"), "the steps to start")
            for execution_id in ids:
                await client.cancel(execution_id)
            ended = [await _bounded(client.wait(execution_id)) for execution_id in ids]
            await _until(lambda: _all_in(http_server, keys, "hung up"), "the workers to stop")
            # Every slot is free again: new work runs at once.
            quick = await _bounded(client.wait(await client.start(playbook=QUICK)))
            await _until(lambda: _stream_empty(cluster), "the pointers to be acked")
            return ended, quick, await client.events(ids[0])
        finally:
            await client.aclose()

    ended, quick, events = asyncio.run(scenario())
    assert [summary["status"] for summary in ended] == ["cancelled"] * SLOTS
    assert (quick["status"], quick["result"]) == ("done", 42)
    assert not any(mark.exists() for mark in marks)  # the pipeline stopped before `mark`
    types = [event["type"] for event in events]
    assert types[-1] == "playbook.cancelled"
    assert "step.done" not in types and "step.failed" not in types  # the worker reported nothing


def test_a_failing_step_stops_its_sibling_running_on_a_worker(cluster, http_server, tmp_path):
    key = f"fail-{uuid.uuid4().hex}"
    go = tmp_path / "go"

    async def scenario() -> dict[str, Any]:
        client = ServerClient(cluster.server_url)
        try:
            workload = {"url": http_server.url, "key": key, "go": str(go)}
            execution_id = await client.start(playbook=FAIL_BESIDE, payload=workload)
            await _until(lambda: _all_in(http_server, [key], "waiting"), "`hang` to start")
            go.touch()  # now `boom` fails, and with it the execution
            summary = await _bounded(client.wait(execution_id))
            await _until(lambda: _all_in(http_server, [key], "hung up"), "`hang` to stop")
            return summary
        finally:
            await client.aclose()

    summary = asyncio.run(scenario())
    assert summary["status"] == "failed"
    assert "boom" in summary["error"]["message"]


async def _all_in(server: LocalHttpServer, keys: list[str], state: str) -> bool:
    return all(server.hang_state(key) == state for key in keys)


async def _stream_empty(cluster: DevCluster) -> bool:
    """No pointer left in the work queue: every delivery was acked."""
    client = await nats.connect(cluster.nats.url)
    try:
        info = await client.jetstream().stream_info("NOETL_COMMANDS")
        return info.state.messages == 0
    finally:
        await client.close()


async def _bounded(waiting: Awaitable[dict[str, Any]]) -> dict[str, Any]:
    return await asyncio.wait_for(waiting, PATIENCE)


async def _until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + PATIENCE
    while not await check():
        assert time.monotonic() < deadline, f"waited {PATIENCE:g} s for {what}"
        await asyncio.sleep(0.1)
