"""The scheduler on the embedded runtime with a fake clock: each slot fires once, executions
record their schedule and slot, and the overlap policies (allow, skip, cancel) while the last
execution still runs."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from noetl.config import Settings
from noetl.runtime.assemble import open_embedded
from noetl.runtime.scheduler import Scheduler, add_schedule
from noetl.runtime.slots import parse_slot
from noetl.store.schedules import FIRED, SKIPPED, Schedule

WAIT = """\
apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: wait, path: tests/wait}
workload: {gate: ""}
workflow:
  - step: start
    tool:
      kind: python
      args: {gate: "{{ workload.gate }}"}
      code: |
        import os, time
        while not os.path.exists(gate):
            time.sleep(0.02)
        result = "opened"
"""


class FakeClock:
    def __init__(self) -> None:
        self.now: Any = None

    def __call__(self) -> Any:
        return self.now


def scenario(tmp_path: Path, overlap: str) -> tuple[list[Any], list[Any], list[str]]:
    """Slot 1 fires; slot 2 comes while its execution runs; then the gate opens."""
    gate = tmp_path / "gate"

    async def go() -> tuple[list[Any], list[Any], list[str]]:
        runtime = await open_embedded(Settings.load(env={}, db=tmp_path / "n.db"))
        try:
            await runtime.catalog.register("tests/wait", "wait", WAIT)
            schedule = Schedule(
                "s", "tests/wait", every=60, overlap=overlap, payload={"gate": str(gate)}
            )
            added = await add_schedule(runtime.schedules, runtime.catalog, schedule)
            clock = FakeClock()
            scheduler = Scheduler(
                runtime.schedules, runtime.catalog, runtime.control, runtime.store, clock=clock
            )
            start = parse_slot(added.created_at)
            clock.now = start + timedelta(seconds=61)
            first = await scheduler.run_due()
            again = await scheduler.run_due()  # the same slot is not handled twice
            assert again == []
            clock.now = start + timedelta(seconds=121)
            second = await scheduler.run_due()
            gate.write_text("open")
            slots = await runtime.schedules.slots("s")
            statuses = []
            for slot in reversed(slots):
                if slot.execution_id:
                    summary = await runtime.control.wait(slot.execution_id)
                    log = await runtime.store.read(slot.execution_id, limit=1)
                    assert log[0].payload["trigger"] == {"schedule": "s", "slot": slot.slot}
                    statuses.append(summary.status)
            return [*first, *second], slots, statuses
        finally:
            gate.write_text("open")
            await runtime.close()

    return asyncio.run(go())


@pytest.mark.parametrize(
    ("overlap", "second", "statuses"),
    [
        ("allow", FIRED, ["done", "done"]),
        ("skip", SKIPPED, ["done"]),
        ("cancel", FIRED, ["cancelled", "done"]),
    ],
)
def test_overlap_policies_while_the_last_execution_runs(tmp_path, overlap, second, statuses):
    handled, slots, ended = scenario(tmp_path, overlap)
    assert [d.status for _, d in handled] == [FIRED, second]
    assert [s.status for s in reversed(slots)] == [FIRED, second]
    if second == SKIPPED:
        assert "still runs" in str(slots[0].reason)
    assert ended == statuses


def test_skip_holds_while_the_last_execution_runs_however_many_slots_pass(tmp_path):
    """With `overlap: skip`, every slot that comes while the execution runs is skipped, not
    only the first few: the skipped slots recorded since do not hide the running execution."""
    gate = tmp_path / "gate"

    async def go() -> list[str]:
        runtime = await open_embedded(Settings.load(env={}, db=tmp_path / "n.db"))
        try:
            await runtime.catalog.register("tests/wait", "wait", WAIT)
            schedule = Schedule(
                "s", "tests/wait", every=60, overlap="skip", payload={"gate": str(gate)}
            )
            added = await add_schedule(runtime.schedules, runtime.catalog, schedule)
            clock = FakeClock()
            scheduler = Scheduler(
                runtime.schedules, runtime.catalog, runtime.control, runtime.store, clock=clock
            )
            start = parse_slot(added.created_at)
            handled = []
            for minute in range(1, 12):  # one slot a minute, while the first run waits
                clock.now = start + timedelta(seconds=60 * minute + 1)
                handled += [decision.status for _, decision in await scheduler.run_due()]
            return handled
        finally:
            gate.write_text("open")
            await runtime.close()

    assert asyncio.run(go()) == [FIRED] + [SKIPPED] * 10
