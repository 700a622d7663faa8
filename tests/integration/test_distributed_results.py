"""Large results between steps that run on different workers of a real local cluster.

Two worker processes run in folders of their own (two machines that share no files); a step's
result above the inline limit goes to the server's database, and the next steps, on whichever
worker, read it back. The event log holds only the reference.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from noetl.client.transport import ServerClient
from noetl.devservers.cluster import DevCluster

BLOB = 200_000  # characters: the result is ~200 KB of JSON, well above the 64 KiB inline limit
PLAYBOOK = f"""\
apiVersion: noetl.io/v2
kind: Playbook
metadata: {{name: big_result, path: tests/big_result}}
workflow:
  - step: start
    tool:
      kind: python
      code: |
        import os, time
        time.sleep(0.3)
        result = {{"cwd": os.getcwd(), "blob": "x" * {BLOB}}}
    spec: {{next_mode: inclusive}}
    next: [{{step: measure}}, {{step: measure_too}}]
  - step: measure
    tool: &measure
      kind: python
      args: {{data: "{{{{ start }}}}"}}
      code: |
        import os, time
        time.sleep(0.3)
        result = {{"cwd": os.getcwd(), "from": data["cwd"], "size": len(data["blob"])}}
  - step: measure_too
    tool: *measure
"""
MEASURES = ("measure", "measure_too")


@pytest.fixture(scope="module")
def machines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DevCluster, list[Path]]]:
    """A cluster whose two workers (one command at a time each) run in different folders."""
    home = tmp_path_factory.mktemp("results-cluster")
    cluster = DevCluster.start(home, workers=0, port=0, concurrency=1, durable=False)
    folders = [home / "machine-a", home / "machine-b"]
    try:
        for folder in folders:
            folder.mkdir()
            cluster.add_worker(cwd=folder)
        yield cluster, folders
    finally:
        cluster.stop()


async def run_one(url: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One execution to its end: its summary and its event log."""
    client = ServerClient(url)
    try:
        summary = await client.wait(await client.start(playbook=PLAYBOOK))
        return summary, await client.events(summary["execution_id"])
    finally:
        await client.aclose()


def test_next_step_on_another_worker_reads_the_large_result(machines):
    cluster, folders = machines
    runs = []
    # The worker that ran `start` (one command at a time) gets one measure step with its report
    # and runs it; the other goes through NATS to the idle worker. A few runs make sure that
    # happened at least once.
    for _ in range(6):
        summary, events = asyncio.run(run_one(cluster.server_url))
        assert summary["status"] == "done", summary["error"]
        measured = [
            e["payload"]["result"]
            for e in events
            if e["type"] == "step.done" and e["step"] in MEASURES
        ]
        runs.append((measured, events))
        if any(m["cwd"] != m["from"] for m in measured):
            break
    for measured, _ in runs:
        assert len(measured) == 2
        for m in measured:
            assert m["size"] == BLOB
            assert {m["cwd"], m["from"]} <= {str(f) for f in folders}
    crossed = [m for measured, _ in runs for m in measured if m["cwd"] != m["from"]]
    assert crossed, "no execution had its steps on two workers"
    for _, events in runs:
        (done,) = [e for e in events if e["type"] == "step.done" and e["step"] == "start"]
        ref = done["payload"]["result"]["result_ref"]
        assert (ref["store"], ref["content_type"]) == ("db", "application/json")
        assert ref["size"] > BLOB
        assert max(len(json.dumps(e)) for e in events) < 16 * 1024  # references, not the data
    assert not [path for folder in folders for path in folder.rglob("*") if path.is_file()]


def noetl(*arguments: str) -> subprocess.CompletedProcess[str]:
    """The `noetl` CLI of this interpreter."""
    command = [sys.executable, "-c", "from noetl.cli.app import main; main()", *arguments]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def test_results_cli_reads_a_large_result_through_the_server(machines):
    cluster, _ = machines
    summary, _ = asyncio.run(run_one(cluster.server_url))
    execution_id, server = summary["execution_id"], cluster.server_url
    found = noetl("results", execution_id, "start", "--server", server)
    assert found.returncode == 0, found.stderr
    value = json.loads(found.stdout)
    assert (value["cwd"], len(value["blob"])) == (summary["result"]["from"], BLOB)
    missing = noetl("results", execution_id, "nope", "--server", server)
    assert missing.returncode == 1
    assert "no result for step 'nope'" in missing.stderr


EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "parallel_loop.yaml"
LOOP_SIZE = 15_000  # the list of 1..n is ~79 KB of JSON: above the 64 KiB inline limit (D8)


async def run_example(url: str, n: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    client = ServerClient(url)
    try:
        started = await client.start(playbook=EXAMPLE.read_text(), payload={"n": n})
        summary = await asyncio.wait_for(client.wait(started), timeout=600)
        return summary, await client.events(summary["execution_id"])
    finally:
        await client.aclose()


@pytest.mark.timeout(900)  # 15,000 iterations on two one-at-a-time workers of a shared machine
def test_a_loop_over_a_stored_result_runs_on_the_server(machines):
    cluster, _ = machines
    summary, events = asyncio.run(run_example(cluster.server_url, LOOP_SIZE))
    assert summary["status"] == "done", summary["error"]
    assert summary["result"] == LOOP_SIZE * (LOOP_SIZE + 1)
    (made,) = [e for e in events if e["type"] == "step.done" and e["step"] == "start"]
    ref = made["payload"]["result"]["result_ref"]
    assert ref["store"] == "db" and ref["size"] > 64 * 1024
    assert [e["payload"]["count"] for e in events if e["type"] == "loop.started"] == [LOOP_SIZE]


UNKEEPABLE = """\
apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: unkeepable, path: tests/unkeepable}
workflow:
  - step: start
    tool:
      kind: python
      code: |
        print("a" + chr(0) + "b")
        result = {"value": float("inf")}
"""


def test_a_result_no_event_store_keeps_fails_its_step_at_once(machines):
    # PostgreSQL refuses NaN/Infinity, NUL and lone surrogates: the worker's report used to be
    # refused again and again: every lease expiry delivered the command anew, for ever
    cluster, _ = machines

    async def go() -> tuple[dict[str, Any], list[dict[str, Any]]]:
        client = ServerClient(cluster.server_url)
        try:
            started = await client.start(playbook=UNKEEPABLE)
            summary = await asyncio.wait_for(client.wait(started), 20)
            return summary, await client.events(started)
        finally:
            await client.aclose()

    summary, events = asyncio.run(go())
    assert summary["status"] == "failed"
    assert summary["error"]["kind"] == "result", summary["error"]
    assert "result.value: inf is not a JSON number" in summary["error"]["message"]
    (attempt,) = [e for e in events if e["type"] == "task.failed"]
    assert attempt["payload"]["output"] == "a\\x00b\n"  # the output is kept, its NUL escaped
