"""The public Python API used for real: embedded runs on SQLite files, and a client of a real
local cluster (PostgreSQL, NATS, a server and a worker process); the examples of
docs/python.md run as written."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import noetl
from noetl.config import Settings
from noetl.devservers.cluster import DevCluster
from noetl.errors import NotFoundError
from noetl.runtime.assemble import open_stores

ROOT = Path(__file__).parents[2]
HELLO = ROOT / "examples" / "hello.yaml"
HEAD = "apiVersion: noetl.io/v2\nkind: Playbook\nmetadata: {name: t}\n"
MERGE = HEAD + (
    "workload: {a: {x: 0, z: 9}}\nworkflow:\n  - step: start\n"
    '    tool: {kind: python, args: {a: "{{ workload.a }}"}, code: "result = a"}\n'
)
FAILS = (
    HEAD
    + "workflow:\n  - step: start\n    tool: {kind: python, code: \"raise ValueError('no')\"}\n"
)
SLOW = HEAD + (
    "workflow:\n  - step: start\n"
    '    tool: {kind: python, code: "import time\\ntime.sleep(0.5)\\nresult = 1"}\n'
    "    next: wait\n"
    "  - step: wait\n"
    '    tool: {kind: python, code: "import time\\ntime.sleep(30)\\nresult = 2"}\n'
)


def test_run_deep_merges_the_payload_and_reports_the_outcome(tmp_path: Path):
    outcome = noetl.run(MERGE, {"a": {"x": 1}}, db=tmp_path / "noetl.db")
    assert (outcome.status, outcome.result, outcome.error) == ("done", {"x": 1, "z": 9}, None)
    failed = noetl.run(FAILS, db=tmp_path / "noetl.db")
    assert failed.status == "failed" and not failed.ok
    assert failed.error is not None and "no" in str(failed.error)


def test_run_from_inside_a_running_event_loop_like_a_notebook(tmp_path: Path):
    async def cell() -> noetl.Outcome:
        return noetl.run(HELLO, {"name": "Nb"}, db=tmp_path / "noetl.db")

    assert asyncio.run(cell()).result == "Hello, Nb!"


def test_an_open_runtime_runs_many_and_cancels(tmp_path: Path):
    async def scenario() -> tuple[list[int], noetl.Outcome]:
        async with noetl.Embedded(db=tmp_path / "noetl.db", workers=4) as runtime:
            many = await asyncio.gather(*(runtime.run(MERGE, {"a": {"x": n}}) for n in range(4)))
            slow = await runtime.start(SLOW)
            await asyncio.sleep(1.0)
            await runtime.cancel(slow)
            return [o.result["x"] for o in many], await runtime.wait(slow)

    results, cancelled = asyncio.run(scenario())
    assert results == [0, 1, 2, 3]
    assert cancelled.status == "cancelled"


def test_catalog_paths_and_versions_resolve_like_noetl_run(tmp_path: Path):
    db = tmp_path / "noetl.db"

    async def register() -> None:
        stores = await open_stores(Settings(db=db), create=True)
        try:
            await stores.catalog.register("team/hello", "hello", HELLO.read_text())
        finally:
            await stores.close()

    asyncio.run(register())
    assert noetl.run("team/hello", {"name": "Cat"}, db=db).result == "Hello, Cat!"
    assert noetl.run("team/hello", db=db, version=1).result == "Hello, World!"
    with pytest.raises(NotFoundError, match="team/nope: no such playbook file, and catalog"):
        noetl.run("team/nope", db=db)
    with pytest.raises(noetl.PlaybookError):
        noetl.run(HEAD + "workflow: 3\n", db=db)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevCluster]:
    running = DevCluster.start(
        tmp_path_factory.mktemp("api-cluster"), workers=1, port=0, durable=False
    )
    try:
        yield running
    finally:
        running.stop()


def test_client_registers_starts_waits_reads_and_cancels(cluster: DevCluster):
    with noetl.Client(cluster.server_url) as client:
        entry = client.register(HELLO, path="api/hello")
        assert (entry["path"], entry["created"]) == ("api/hello", True)
        execution_id = client.start("api/hello", {"name": "Lin"})
        outcome = client.wait(execution_id)
        assert (outcome.execution_id, outcome.result) == (execution_id, "Hello, Lin!")
        assert client.status(execution_id) == outcome
        types = [event["type"] for event in client.events(execution_id)]
        assert types[0] == "playbook.started" and types[-1] == "playbook.done"
        assert client.results(execution_id, "start") == "Hello, Lin!"
        assert client.run(MERGE, {"a": {"y": 2}}).result == {"x": 0, "y": 2, "z": 9}
        slow = client.start(SLOW)
        deadline = time.monotonic() + 30
        while "step.done" not in [e["type"] for e in client.events(slow)]:
            assert time.monotonic() < deadline, "the first step did not end"
            time.sleep(0.1)
        client.cancel(slow)
        assert client.wait(slow).status == "cancelled"
        with pytest.raises(NotFoundError):
            client.start("api/nope")


def test_async_client(cluster: DevCluster):
    async def scenario() -> noetl.Outcome:
        async with noetl.AsyncClient(cluster.server_url) as client:
            return await client.run(FAILS)

    failed = asyncio.run(scenario())
    assert failed.status == "failed" and failed.error is not None


def test_the_examples_of_docs_python_md_run(
    cluster: DevCluster, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "python.md").read_text(), re.S)
    assert len(blocks) >= 4
    monkeypatch.chdir(ROOT)  # the examples name examples/hello.yaml
    monkeypatch.setenv("NOETL_SERVER_URL", cluster.server_url)
    for number, block in enumerate(blocks, 1):
        exec(compile(block, f"docs/python.md block {number}", "exec"), {"__name__": "__docs__"})
    printed = capsys.readouterr().out
    assert "[2, 3, 4, 5, 6]" in printed and "Hello, Grace!" in printed
