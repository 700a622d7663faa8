"""The control plane with in-memory adapters: behaviour that does not depend on the mode."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from noetl.bus.inprocess import InProcessBus
from noetl.bus.port import Pointer
from noetl.dsl.load import load_playbook
from noetl.errors import NoetlError
from noetl.runtime.control import ControlPlane
from noetl.store.memory import MemoryEventStore
from noetl.store.sqlite import SqliteEventStore
from support.engine_sim import worker_event

SLOW = """
apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: slow, path: tests/slow}
workflow:
  - step: start
    tool: {kind: noop}
"""


def test_a_cancelled_parent_cancels_its_running_children():
    async def scenario():
        store, bus = MemoryEventStore(), InProcessBus()
        control = ControlPlane(store, bus)
        control.open()
        try:
            playbook = load_playbook(SLOW)
            parent = await control.start(playbook, source=SLOW)
            child = await control.start(playbook, source=SLOW, parent_execution_id=parent)
            other = await control.start(playbook, source=SLOW)
            await control.cancel(parent)
            await control.flush()
            summaries = [await store.get_execution(e) for e in (parent, child, other)]
            child_log = await store.read(child)
            return summaries, child_log
        finally:
            await control.close()
            await bus.close()

    (parent, child, other), child_log = asyncio.run(scenario())
    assert (parent.status, child.status, other.status) == ("cancelled", "cancelled", "running")
    assert child.parent_execution_id == parent.execution_id
    assert child_log[-1].type == "playbook.cancelled"
    assert f"parent execution {parent.execution_id} ended" in child_log[-1].payload["reason"]


class FlakyStore(MemoryEventStore):
    """Fails the first append with an unexpected error (a bug or a driver surprise)."""

    def __init__(self) -> None:
        super().__init__()
        self.failures = 1

    async def append_batches(self, batches, *, expected=None):
        if self.failures:
            self.failures -= 1
            raise RuntimeError("disk on fire")
        return await super().append_batches(batches, expected=expected)


def test_the_pump_survives_a_failed_batch_and_the_caller_gets_an_error():
    async def scenario():
        store, bus = FlakyStore(), InProcessBus()
        control = ControlPlane(store, bus)
        control.open()
        try:
            playbook = load_playbook(SLOW)
            with pytest.raises(NoetlError, match="RuntimeError: disk on fire"):
                await control.start(playbook, source=SLOW)
            kept = await control.start(playbook, source=SLOW)
            return await store.get_execution(kept)
        finally:
            await control.close()
            await bus.close()

    assert asyncio.run(scenario()).status == "running"


@asynccontextmanager
async def two_control_planes(
    path: Path, sweep: float | None = None
) -> AsyncIterator[tuple[SqliteEventStore, ControlPlane, ControlPlane]]:
    """Two control planes sharing one SQLite store and one bus: what two server replicas are."""
    store, bus = SqliteEventStore.open(path), InProcessBus()
    first = ControlPlane(store, bus, sweep=sweep)
    second = ControlPlane(store, bus, sweep=sweep)
    first.open()
    second.open()
    try:
        yield store, first, second
    finally:
        await first.close()
        await second.close()
        await bus.close()
        await store.close()


def test_two_control_planes_sharing_a_store_hand_a_command_to_one_worker(tmp_path):
    async def scenario():
        async with two_control_planes(tmp_path / "n.db") as (store, first, second):
            execution_id = await first.start(load_playbook(SLOW), source=SLOW)
            issued = [e for e in await store.read(execution_id) if e.type == "command.issued"]
            pointer = Pointer(execution_id, issued[0].command_id or "", "start")
            race = await asyncio.gather(first.claim(pointer, 1), second.claim(pointer, 1))
            redelivered = await second.claim(pointer, 2)  # the lease ran out: a later attempt
            return race, redelivered

    race, redelivered = asyncio.run(scenario())
    assert sum(item is not None for item in race) == 1
    assert redelivered is not None and redelivered.command.step == "start"


TWO_STEPS = """
apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: two, path: tests/two}
workflow:
  - step: start
    tool: {kind: noop}
    next: [second]
  - step: second
    tool: {kind: noop}
"""


def test_a_replica_hands_out_a_command_the_other_one_issued(tmp_path):
    """Replica A started the execution; B ran its first step and issued the second. A's memory
    has not seen that command, yet it must hand it out (reading the log), and then see the end."""

    async def scenario():
        async with two_control_planes(tmp_path / "n.db") as (store, a, b):
            execution_id = await a.start(load_playbook(TWO_STEPS), source=TWO_STEPS)
            first = await _claim_next(store, b, execution_id, "start")
            await _finish(b, first)
            second = await _claim_next(store, a, execution_id, "second")
            await _finish(a, second)
            return await asyncio.wait_for(a.wait(execution_id), 5), a.holds(execution_id)

    summary, still_held = asyncio.run(scenario())
    assert summary.status == "done"
    assert not still_held


def test_a_replica_lets_go_of_an_execution_another_one_ended(tmp_path):
    """B ran the first step (so it holds the execution), A ran the second and wrote the end. B
    never sees that end in its own writes: its sweep finds it in the log, answers B's waiters
    and frees B's memory."""

    async def scenario():
        async with two_control_planes(tmp_path / "n.db", sweep=0.1) as (store, a, b):
            execution_id = await a.start(load_playbook(TWO_STEPS), source=TWO_STEPS)
            await _finish(b, await _claim_next(store, b, execution_id, "start"))
            await _finish(a, await _claim_next(store, a, execution_id, "second"))
            held_after_end = b.holds(execution_id)
            summary = await asyncio.wait_for(b.wait(execution_id), 5)
            return held_after_end, summary, b.holds(execution_id)

    held_after_end, summary, still_held = asyncio.run(scenario())
    assert held_after_end  # B did not write the end...
    assert summary.status == "done"
    assert not still_held  # ...and let go once its sweep read it


async def _claim_next(store, control: ControlPlane, execution_id: str, step: str):
    issued = [e for e in await store.read(execution_id) if e.type == "command.issued"]
    command_id = next(e.command_id for e in issued if e.step == step)
    item = await control.claim(Pointer(execution_id, command_id or "", step), 1)
    assert item is not None, f"command of step {step} was not handed out"
    return item


async def _finish(control: ControlPlane, item) -> None:
    """The worker's report: the command's step is done."""
    await control.submit([worker_event(item.command, ("done", None))])
    await control.flush()
