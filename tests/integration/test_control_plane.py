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
from noetl.errors import (
    BusError,
    ConflictError,
    NoetlError,
    StoreInputError,
    StoreUnavailableError,
)
from noetl.runtime.control import ControlPlane
from noetl.store.memory import MemoryEventStore
from noetl.store.sqlite import SqliteEventStore
from support.control_plane import control_plane
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
        store = MemoryEventStore()
        async with control_plane(store=store) as (control, _bus):
            playbook = load_playbook(SLOW)
            parent = await control.start(playbook, source=SLOW)
            child = await control.start(playbook, source=SLOW, parent_execution_id=parent)
            other = await control.start(playbook, source=SLOW)
            await control.cancel(parent)
            await control.flush()
            summaries = [await store.get_execution(e) for e in (parent, child, other)]
            child_log = await store.read(child)
            return summaries, child_log

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
        store = FlakyStore()
        async with control_plane(store=store) as (control, _bus):
            playbook = load_playbook(SLOW)
            with pytest.raises(NoetlError, match="RuntimeError: disk on fire"):
                await control.start(playbook, source=SLOW)
            kept = await control.start(playbook, source=SLOW)
            return await store.get_execution(kept)

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
            # A later attempt at the replica that did not hand it out: the lease lives in the
            # winner's memory, the store only keeps one winner per attempt.
            other = second if race[0] is not None else first
            redelivered = await other.claim(pointer, 2)
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


class BlinkingStore(MemoryEventStore):
    """A store that is down while `down` is set, and refuses batches holding a "poison" value
    (as PostgreSQL refuses a NUL byte), like the real ones."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False

    async def append_batches(self, batches, *, expected=None):
        if self.down:
            raise StoreUnavailableError("connection refused")
        if any("poison" in str(e.payload) for events in batches.values() for e in events):
            raise StoreInputError("invalid byte sequence")
        return await super().append_batches(batches, expected=expected)


async def _claimed(control: ControlPlane, bus: InProcessBus):
    [delivery] = await bus.fetch("default", timeout=1.0)
    item = await control.claim(delivery.pointer, delivery.attempt)
    assert item is not None
    return item


def test_a_report_the_store_could_not_write_is_refused_and_taken_when_sent_again():
    """D1: the worker is told (503: it retries), and the execution stays in memory with the
    lease of its command; the report sent again is written and the execution goes on."""

    async def scenario():
        store = BlinkingStore()
        async with control_plane(store=store) as (control, bus):
            execution_id = await control.start(load_playbook(SLOW), source=SLOW)
            item = await _claimed(control, bus)
            report = [worker_event(item.command, ("done", 7))]
            store.down = True
            with pytest.raises(StoreUnavailableError, match="connection refused"):
                await control.report(report, item.token)
            still_running = control.holds(execution_id)
            store.down = False
            await control.report(report, item.token)
            summary = await asyncio.wait_for(control.wait(execution_id), 5)
            return still_running, summary, await store.read(execution_id)

    still_running, summary, events = asyncio.run(scenario())
    assert still_running
    assert (summary.status, summary.result) == ("done", 7)
    assert [e.type for e in events].count("step.done") == 1


def test_one_bad_report_does_not_fail_the_reports_batched_with_it():
    """D1/D2: two reports decided in one batch; the store refuses a value of one of them. That
    one gets the error; the other is written."""

    async def scenario():
        store = BlinkingStore()
        async with control_plane(store=store) as (control, bus):
            first = await control.start(load_playbook(SLOW), source=SLOW)
            bad = await _claimed(control, bus)
            second = await control.start(load_playbook(SLOW), source=SLOW)
            good = await _claimed(control, bus)
            outcomes = await asyncio.gather(
                control.report([worker_event(bad.command, ("done", "poison"))], bad.token),
                control.report([worker_event(good.command, ("done", "fine"))], good.token),
                return_exceptions=True,
            )
            summary = await asyncio.wait_for(control.wait(second), 5)
            return outcomes, summary, control.holds(first)

    (refused, written), summary, first_still_running = asyncio.run(scenario())
    assert isinstance(refused, StoreInputError) and written == []
    assert (summary.status, summary.result) == ("done", "fine")
    assert first_still_running


class DownBus(InProcessBus):
    """An in-process bus whose publishing fails while `down` is set (NATS restarting)."""

    down = True

    async def publish(self, pointers):
        if self.down:
            raise BusError("nats: no servers available for connection")
        await super().publish(pointers)


def test_a_start_written_to_the_log_is_answered_while_the_bus_is_down():
    """D4: the start's events are in the log, so its id is the answer; the command reaches
    the bus once the bus is back."""

    async def scenario():
        store = MemoryEventStore()
        async with control_plane(store=store, bus=DownBus()) as (control, bus):
            execution_id = await asyncio.wait_for(control.start(load_playbook(SLOW)), 5)
            bus.down = False
            [delivery] = await bus.fetch("default", timeout=5.0)
            return execution_id, delivery.pointer, await store.read(execution_id)

    execution_id, pointer, events = asyncio.run(scenario())
    assert pointer.execution_id == execution_id
    assert [e.type for e in events][-1] == "command.issued"


def test_a_start_with_a_request_key_happens_once():
    async def scenario():
        store = MemoryEventStore()
        async with control_plane(store=store) as (control, _bus):
            playbook = load_playbook(SLOW)
            first = await control.start(playbook, {"n": 1}, source=SLOW, request_key="k-1")
            again = await control.start(playbook, {"n": 1}, source=SLOW, request_key="k-1")
            other = await control.start(playbook, {"n": 1}, source=SLOW, request_key="k-2")
            with pytest.raises(ConflictError, match="used for a different request"):
                await control.start(playbook, {"n": 2}, source=SLOW, request_key="k-1")
            return first, again, other, await store.list_executions()

    first, again, other, listed = asyncio.run(scenario())
    assert first == again != other
    assert sorted(e.execution_id for e in listed) == sorted([first, other])


def test_starts_failing_together_each_get_an_error_of_their_own():
    """D12: one error object shared by every waiter collects every waiter's traceback (the log
    grew quadratically); each waiting request gets its own."""

    async def scenario():
        store = BlinkingStore()
        store.down = True
        async with control_plane(store=store) as (control, _bus):
            playbook = load_playbook(SLOW)
            starts = [control.start(playbook, source=SLOW) for _ in range(5)]
            failures = await asyncio.gather(*starts, return_exceptions=True)
            return failures, await store.list_executions()

    failures, listed = asyncio.run(scenario())
    assert all(isinstance(f, StoreUnavailableError) for f in failures)
    assert len({id(f) for f in failures}) == 5
    assert all("connection refused" in str(f) for f in failures)
    assert listed == []  # nothing half-started


class GatedStore(MemoryEventStore):
    """A store whose appends wait until `gate` is set (the log's database is slow to come)."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()

    async def append_batches(self, batches, *, expected=None):
        await self.gate.wait()
        return await super().append_batches(batches, expected=expected)


def test_the_sweeper_leaves_alone_an_execution_whose_first_write_is_on_its_way(caplog):
    """D14: no error per start while the store is slow to take its first events."""

    async def scenario():
        store = GatedStore()
        async with control_plane(sweep=0.02, store=store) as (control, _bus):
            starting = asyncio.create_task(control.start(load_playbook(SLOW), source=SLOW))
            await asyncio.sleep(0.2)  # ten sweeps while the start waits
            store.gate.set()
            return await starting

    with caplog.at_level("WARNING", logger="noetl.runtime.replicas"):
        execution_id = asyncio.run(scenario())
    assert execution_id
    assert [r.getMessage() for r in caplog.records if r.name == "noetl.runtime.replicas"] == []
