"""Parents waiting for child playbooks lend their worker slot: a parallel loop of `kind: playbook`
tasks wider than the worker pool finishes (it used to hang with every slot held by a parent),
nested children finish on a single slot, and real work still never runs on more slots than the
pool has. Embedded (in-process workers) and distributed (a worker process of 2 slots)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from noetl.config import Settings
from noetl.devservers.cluster import DevCluster
from noetl.dsl.load import load_playbook
from noetl.runtime.assemble import open_embedded

HEAD = "apiVersion: noetl.io/v2\nkind: Playbook\n"
NOETL = str(Path(sys.executable).with_name("noetl"))
# The children count how many of them run at once (a locked file: threads or processes alike).
LEAF = (
    HEAD
    + """metadata: {name: leaf, path: tests/slots/leaf}
workload: {n: 0, gauge: ""}
workflow:
  - step: start
    tool:
      kind: python
      args: {n: "{{ workload.n }}", gauge: "{{ workload.gauge }}"}
      code: |
        import fcntl, json, time

        def bump(by):
            with open(gauge, "a+") as f:
                fcntl.flock(f, fcntl.LOCK_EX)
                f.seek(0)
                seen = json.loads(f.read() or '{"now": 0, "max": 0, "runs": 0}')
                seen["now"] += by
                seen["max"] = max(seen["max"], seen["now"])
                seen["runs"] += by > 0
                f.seek(0)
                f.truncate()
                f.write(json.dumps(seen))

        bump(1)
        time.sleep(0.05)
        bump(-1)
        result = n * n
"""
)
# A child that starts a child of its own, then works on its result.
MIDDLE = (
    HEAD
    + """metadata: {name: middle, path: tests/slots/middle}
workload: {n: 0, gauge: ""}
workflow:
  - step: start
    tool: {kind: playbook, path: LEAF, args: {n: "{{ workload.n }}", gauge: "{{ workload.gauge }}"}}
    next: [{step: add}]
  - step: add
    tool: {kind: python, args: {square: "{{ start }}"}, code: "result = square + 1"}
"""
)
# Ten children at once: wider than any pool below.
PARENT = (
    HEAD
    + """metadata: {name: parent, path: tests/slots/parent}
workload: {gauge: "", items: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]}
workflow:
  - step: start
    loop: {in: "{{ workload.items }}", iterator: n, spec: {mode: parallel, max_in_flight: 10}}
    tool: {kind: playbook, path: CHILD, args: {n: "{{ iter.n }}", gauge: "{{ workload.gauge }}"}}
    next: [{step: total}]
  - step: total
    tool: {kind: python, args: {each: "{{ start.results }}"}, code: "result = each"}
"""
)
SQUARES = [n * n for n in range(10)]


def gauge_of(path: Path) -> dict[str, int]:
    seen: dict[str, int] = json.loads(path.read_text())
    return seen


def run_embedded(tmp_path: Path, workers: int, child: str) -> Any:
    """Run PARENT (its children as files next to it) on `workers` in-process workers."""
    (tmp_path / "leaf.yaml").write_text(LEAF)
    (tmp_path / "middle.yaml").write_text(MIDDLE.replace("LEAF", "leaf.yaml"))
    text = PARENT.replace("CHILD", child)
    (tmp_path / "parent.yaml").write_text(text)
    gauge = tmp_path / "gauge.json"

    async def go() -> Any:
        settings = Settings.load(env={}, db=tmp_path / "n.db", workers=workers)
        runtime = await open_embedded(settings)
        try:
            playbook = load_playbook(text, file=str(tmp_path / "parent.yaml"))
            payload = {"gauge": str(gauge)}
            # A hang (every slot held by a waiting parent) fails here instead of never ending.
            return await asyncio.wait_for(runtime.run(playbook, payload, source=text), 60)
        finally:
            await runtime.close()

    return asyncio.run(go()), gauge_of(gauge)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("workers", [2, 4])
def test_ten_children_at_once_finish_on_fewer_workers(tmp_path, workers):
    summary, gauge = run_embedded(tmp_path, workers, "leaf.yaml")
    assert summary.status == "done", summary.error
    assert summary.result == SQUARES
    assert gauge["runs"] == 10 and gauge["now"] == 0
    assert 1 <= gauge["max"] <= workers  # the children's real work kept to the pool's slots


@pytest.mark.timeout(120)
def test_nested_children_finish_on_one_worker(tmp_path):
    summary, gauge = run_embedded(tmp_path, 1, "middle.yaml")
    assert summary.status == "done", summary.error
    assert summary.result == [n * n + 1 for n in range(10)]
    assert gauge == {"now": 0, "max": 1, "runs": 10}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevCluster]:
    home = tmp_path_factory.mktemp("slots-cluster")
    running = DevCluster.start(home, workers=1, concurrency=2, port=0, durable=False)
    try:
        yield running
    finally:
        running.stop()


def noetl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([NOETL, *args], capture_output=True, text=True, timeout=90)


@pytest.mark.integration
@pytest.mark.timeout(180)
def test_distributed_children_and_grandchildren_finish_on_two_slots(cluster, tmp_path):
    files = {
        "leaf.yaml": LEAF,
        "middle.yaml": MIDDLE.replace("LEAF", "tests/slots/leaf"),
        "parent.yaml": PARENT.replace("CHILD", "tests/slots/middle"),
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    for name in ("leaf.yaml", "middle.yaml"):  # children are found in the server's catalog
        registered = noetl(
            "catalog", "register", str(tmp_path / name), "--server", cluster.server_url
        )
        assert registered.returncode == 0, registered.stderr
    gauge = tmp_path / "gauge.json"
    done = noetl(
        *("execute", str(tmp_path / "parent.yaml"), "--server", cluster.server_url),
        *("--set", f"gauge={gauge}", "--wait", "--json"),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    outcome = json.loads(done.stdout)
    assert outcome["status"] == "done", outcome
    assert outcome["result"] == [n * n + 1 for n in range(10)]
    seen = gauge_of(gauge)
    assert seen["runs"] == 10 and seen["now"] == 0
    assert 1 <= seen["max"] <= 2
