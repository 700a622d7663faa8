"""The embedded runtime end to end, in process: results by reference, children, timeouts, resume."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Sequence
from pathlib import Path

import pytest

from noetl.config import Settings
from noetl.dsl.load import load_playbook
from noetl.errors import StoreError
from noetl.runtime.assemble import open_embedded
from noetl.store.sqlite import SqliteEventStore

HEAD = "apiVersion: noetl.io/v2\nkind: Playbook\nmetadata: {name: t, path: tests/t}\n"


def run(tmp_path: Path, body: str, payload=None, file: Path | None = None, **settings):
    text = HEAD + body
    if file is not None:
        file.write_text(text)

    async def go():
        runtime = await open_embedded(Settings.load(env={}, db=tmp_path / "n.db", **settings))
        try:
            playbook = load_playbook(text, file=str(file) if file else None)
            summary = await runtime.run(playbook, payload, source=text)
            log = await runtime.store.read(summary.execution_id)
            return summary, log
        finally:
            await runtime.close()

    return asyncio.run(go())


def test_a_50_mb_result_flows_between_steps_by_reference(tmp_path):
    summary, log = run(
        tmp_path,
        """
workflow:
  - step: start
    tool: {kind: python, code: "result = 'x' * (50 * 1024 * 1024)"}
    next: [{step: measure}]
  - step: measure
    tool: {kind: python, args: {data: "{{ start }}"}, code: "result = len(data)"}
""",
    )
    assert summary.status == "done" and summary.result == 50 * 1024 * 1024
    assert sum(len(e.to_json()) for e in log) < 50_000
    ref = next(e for e in log if e.type == "step.done" and e.step == "start").payload["result"]
    assert ref["result_ref"]["size"] == 50 * 1024 * 1024 + 2
    stored = list((tmp_path / "results").rglob("*.json"))
    assert len(stored) == 1  # task.done and step.done share one stored object


def test_large_loop_results_are_references_loaded_for_later_steps(tmp_path):
    summary, log = run(
        tmp_path,
        """
workflow:
  - step: start
    loop: {in: "{{ [1, 2, 3] }}", iterator: n}
    tool: {kind: python, args: {n: "{{ iter.n }}"}, code: "result = [n] * 20000"}
    next: [{step: total}]
  - step: total
    tool:
      kind: python
      args: {lists: "{{ start.results }}"}
      code: "result = sum(sum(x) for x in lists)"
""",
        inline_limit=1024,
    )
    assert summary.status == "done" and summary.result == 20000 * 6
    done = next(e for e in log if e.type == "loop.done")
    assert all("result_ref" in r for r in done.payload["results"])


def test_small_results_stay_inline(tmp_path):
    summary, _ = run(tmp_path, "workflow:\n  - step: start\n    tool: {kind: noop, result: 5}\n")
    assert summary.result == 5
    assert not (tmp_path / "results").exists()


CHILD = """
workload: {fail: false}
workflow:
  - step: start
    tool:
      kind: python
      args: {fail: "{{ workload.fail }}", delay: "{{ workload.delay | default(0) }}"}
      code: |
        import time
        time.sleep(delay)
        if fail:
            raise ValueError("child says no")
        result = "child ok"
"""


def test_child_playbook_result_and_failure(tmp_path):
    (tmp_path / "child.yaml").write_text(HEAD + CHILD)
    parent = """
workflow:
  - step: start
    tool: {kind: playbook, path: child.yaml, args: {fail: FAIL}}
"""
    ok, _ = run(tmp_path, parent.replace("FAIL", "false"), file=tmp_path / "parent.yaml")
    assert ok.status == "done" and ok.result == "child ok"
    bad, _ = run(tmp_path, parent.replace("FAIL", "true"), file=tmp_path / "parent.yaml")
    assert bad.status == "failed"
    assert "child playbook 'child.yaml'" in bad.error["message"]
    assert "child says no" in bad.error["message"]


def test_cancelling_the_parent_cancels_the_child(tmp_path):
    (tmp_path / "child.yaml").write_text(HEAD + CHILD)
    parent = (
        HEAD
        + """
workflow:
  - step: start
    tool: {kind: playbook, path: child.yaml, args: {delay: 30}}
"""
    )
    (tmp_path / "parent.yaml").write_text(parent)

    async def go():
        runtime = await open_embedded(Settings.load(env={}, db=tmp_path / "n.db"))
        try:
            playbook = load_playbook(parent, file=str(tmp_path / "parent.yaml"))
            parent_id = await runtime.control.start(playbook, source=parent)
            for _ in range(200):
                executions = await runtime.store.list_executions()
                if len(executions) == 2:
                    break
                await asyncio.sleep(0.02)
            child = next(e for e in executions if e.parent_execution_id == parent_id)
            await runtime.control.cancel(parent_id)
            summary = await runtime.control.wait(child.execution_id)
            return summary, await runtime.control.wait(parent_id)
        finally:
            await runtime.close()

    child, parent_summary = asyncio.run(go())
    assert parent_summary.status == "cancelled"
    assert child.status == "cancelled"


def test_step_timeout_fails_the_step_with_kind_timeout(tmp_path):
    summary, log = run(
        tmp_path,
        """
workflow:
  - step: start
    spec: {timeout: 0.2s}
    tool: {kind: python, code: "import time; time.sleep(1); result = 1"}
""",
    )
    assert summary.status == "failed"
    assert summary.error["kind"] == "timeout"
    assert [e.type for e in log].count("step.failed") == 1


def test_resume_continues_without_rerunning_finished_iterations(tmp_path):
    marks = tmp_path / "marks.txt"
    text = (
        HEAD
        + """
workload: {marks: "", n: 12}
workflow:
  - step: start
    loop: {in: "{{ range(workload.n) | list }}", iterator: i}
    tool:
      kind: python
      args: {i: "{{ iter.i }}", marks: "{{ workload.marks }}"}
      code: |
        import time
        with open(marks, "a") as f:
            f.write(f"{i}\\n")
        time.sleep(0.05)
        result = i
    next: [{step: end, args: {total: "{{ start.results | sum }}"}}]
  - step: end
"""
    )
    settings = Settings.load(env={}, db=tmp_path / "n.db")

    async def interrupted():
        runtime = await open_embedded(settings)
        execution_id = await runtime.control.start(
            load_playbook(text), {"marks": str(marks)}, source=text
        )
        while not marks.exists() or len(marks.read_text().split()) < 5:
            await asyncio.sleep(0.02)
        await runtime.close()  # the process goes away mid-run
        return execution_id

    async def resumed(execution_id):
        runtime = await open_embedded(settings)
        try:
            await runtime.control.resume(execution_id)
            return await runtime.control.wait(execution_id)
        finally:
            await runtime.close()

    execution_id = asyncio.run(interrupted())
    before = marks.read_text().split()
    summary = asyncio.run(resumed(execution_id))
    assert summary.status == "done"
    assert summary.result == {"total": sum(range(12))}
    runs = [int(x) for x in marks.read_text().split()]
    assert sorted(set(runs)) == list(range(12))
    repeated = [i for i in set(runs) if runs.count(i) > 1]
    assert len(repeated) <= 1 and all(str(i) in before for i in repeated)
    assert json.loads(json.dumps(summary.result))  # JSON-friendly


def test_cancelling_stops_the_running_command(tmp_path, http_server):
    """The cancel notice goes over the in-process bus to the worker pool, which stops the task."""
    key = f"embedded-{uuid.uuid4().hex}"
    text = (
        HEAD
        + """
workflow:
  - step: start
    tool:
      kind: http
      url: "{{ workload.url }}/hang"
      params: {key: "{{ workload.key }}", ms: 120000}
      timeout: 150
"""
    )

    async def go():
        runtime = await open_embedded(Settings.load(env={}, db=tmp_path / "n.db"))
        try:
            payload = {"url": http_server.url, "key": key}
            execution_id = await runtime.control.start(load_playbook(text), payload)
            await _until(lambda: http_server.hang_state(key) == "waiting")
            await runtime.control.cancel(execution_id)
            summary = await runtime.control.wait(execution_id)
            await _until(lambda: http_server.hang_state(key) == "hung up")
            return summary
        finally:
            await runtime.close()

    assert asyncio.run(go()).status == "cancelled"


async def _until(check, patience: float = 30.0) -> None:
    for _ in range(int(patience / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not within {patience:g} s")


class _HeldClaims:
    """The control plane as command source, holding each granted claim until `release`."""

    def __init__(self, control) -> None:
        self.control = control
        self.granted = asyncio.Event()
        self.release = asyncio.Event()

    async def claim(self, pointer, attempt=1):
        item = await self.control.claim(pointer, attempt)
        self.granted.set()
        await self.release.wait()
        return item

    async def report(self, events, token, *, pool=None, take=0):
        return await self.control.report(events, token, pool=pool, take=take)

    async def renew(self, held) -> None:
        await self.control.renew(held)


def test_a_cancel_that_overtakes_the_claim_answer_keeps_the_command_from_starting(
    tmp_path, http_server
):
    """The notice reaches the worker while its granted claim is on the way back (distributed
    mode: an HTTP answer and a NATS message race): the command must not start."""
    key = f"overtaken-{uuid.uuid4().hex}"
    text = HEAD + (
        "workflow:\n  - step: start\n    tool:\n      kind: http\n"
        '      url: "{{ workload.url }}/hang"\n'
        '      params: {key: "{{ workload.key }}", ms: 120000}\n'
    )

    async def go():
        runtime = await open_embedded(Settings.load(env={}, db=tmp_path / "n.db"))
        held = runtime.workers.source = _HeldClaims(runtime.control)
        try:
            payload = {"url": http_server.url, "key": key}
            execution_id = await runtime.control.start(load_playbook(text), payload)
            await asyncio.wait_for(held.granted.wait(), 30)
            await runtime.control.cancel(execution_id)
            summary = await runtime.control.wait(execution_id)
            held.release.set()
            await asyncio.sleep(1.0)  # time enough to start the request, were it to start
            return summary
        finally:
            await runtime.close()

    assert asyncio.run(go()).status == "cancelled"
    assert http_server.hang_state(key) is None  # the request was never made


HELLO = Path(__file__).parents[2] / "examples" / "hello.yaml"


class _CorruptClaims(SqliteEventStore):
    """A SQLite log whose claims fail as a corrupted file makes them fail."""

    async def claim(self, attempts: Sequence[tuple[str, str, int]]) -> list[bool]:
        raise StoreError(f"claiming command {attempts[0][1]}: database disk image is malformed")


def test_a_store_that_fails_on_the_workers_path_ends_the_wait_with_its_error(tmp_path):
    """D10: the run is told the store could not be written; it never waits forever."""

    async def scenario():
        store = _CorruptClaims.open(tmp_path / "n.db")
        runtime = await open_embedded(Settings.load(env={}, db=tmp_path / "n.db"), store=store)
        try:
            playbook = load_playbook(HELLO)
            with pytest.raises(StoreError, match=r"the store could not be written.*malformed"):
                await asyncio.wait_for(runtime.run(playbook), 30)
        finally:
            await runtime.close()

    asyncio.run(scenario())


def test_a_command_running_longer_than_its_lease_keeps_it_by_renewing(tmp_path):
    """The worker renews the lease of a command it runs (every third of it): a step of 2.5 s
    on a lease of 1 s runs once, on its first claim, and is never handed to anyone else."""
    summary, log = run(
        tmp_path,
        """
workflow:
  - step: start
    tool: {kind: noop}
    next: [{step: slow}]
  - step: slow
    tool: {kind: python, code: "import time\\ntime.sleep(2.5)\\nresult = 'kept'"}
""",
        ack_wait=1,
    )
    assert summary.status == "done" and summary.result == "kept"
    slow = [e.type for e in log if e.step == "slow"]
    assert slow.count("command.claimed") == 1 and slow.count("command.started") == 1
    assert "command.expired" not in slow
