"""Hand-off: a worker's report answered with the next command of its chain, on a lease.

The control plane with in-memory adapters and no worker pool: the tests play the worker, so
they can report, go silent or renew at will, and look at what reached the bus.
"""

from __future__ import annotations

import asyncio

import pytest

from noetl.bus.inprocess import InProcessBus
from noetl.bus.port import Pointer
from noetl.dsl.load import load_playbook
from noetl.errors import NotHeldError
from noetl.runtime.control import ControlPlane
from noetl.worker.source import WorkItem
from support.control_plane import control_plane
from support.engine_sim import worker_event
from support.event_log import assert_one_ending_per_step_run

CHAIN = """
apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: chain, path: tests/chain}
workflow:
  - step: start
    tool: {kind: noop}
    next: [{step: middle}]
  - step: middle
    tool: {kind: noop}
    next: [{step: last}]
  - step: last
    tool: {kind: noop}
"""

FAN_OUT = """
apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: fan, path: tests/fan}
workflow:
  - step: start
    spec: {next_mode: inclusive}
    tool: {kind: noop}
    next: [{step: a}, {step: b}, {step: c}]
  - step: a
    tool: {kind: noop}
  - step: b
    tool: {kind: noop}
  - step: c
    tool: {kind: noop}
"""

GPU_CHAIN = CHAIN.replace(
    "metadata: {name: chain, path: tests/chain}",
    "metadata: {name: chain, path: tests/chain}\nexecutor: {spec: {pool: gpu}}",
)


async def _first(control: ControlPlane, bus: InProcessBus, pool: str = "default") -> WorkItem:
    """Fetch and claim the first pointer on `pool` (a bus delivery, as a worker gets one)."""
    [delivery] = await bus.fetch(pool, timeout=1.0)
    item = await control.claim(delivery.pointer, delivery.attempt)
    assert item is not None
    await delivery.ack()
    return item


async def _done(control: ControlPlane, item: WorkItem, *, pool: str = "default", take: int = 1):
    return await control.report(
        [worker_event(item.command, ("done", None))], item.token, pool=pool, take=take
    )


async def _log(control: ControlPlane, execution_id: str) -> list[dict]:
    return [e.to_dict() for e in await control.store.read(execution_id)]


def test_a_chain_runs_on_reports_alone_after_its_first_delivery():
    async def scenario():
        async with control_plane() as (control, bus):
            execution_id = await control.start(load_playbook(CHAIN), source=CHAIN)
            item = await _first(control, bus)
            steps = [item.command.step]
            while True:
                handed = await _done(control, item)
                if not handed:
                    break
                [item] = handed
                assert item.lease == control.leases.lease
                assert item.scope["workload"] == {}
                assert await bus.fetch("default", timeout=0.05) == []  # not on the bus
                steps.append(item.command.step)
            summary = await control.wait(execution_id)
            return steps, summary.status, await _log(control, execution_id)

    steps, status, events = asyncio.run(scenario())
    assert steps == ["start", "middle", "last"]
    assert status == "done"
    assert_one_ending_per_step_run(events[0]["execution_id"], events)


def test_a_report_that_takes_nothing_leaves_the_next_command_on_the_bus():
    async def scenario():
        async with control_plane() as (control, bus):
            await control.start(load_playbook(CHAIN), source=CHAIN)
            handed = await _done(control, await _first(control, bus), take=0)
            [delivery] = await bus.fetch("default", timeout=1.0)
            return handed, delivery.pointer.step

    assert asyncio.run(scenario()) == ([], "middle")


def test_a_fan_out_hands_over_as_many_as_taken_and_publishes_the_rest():
    async def scenario():
        async with control_plane() as (control, bus):
            await control.start(load_playbook(FAN_OUT), source=FAN_OUT)
            handed = await _done(control, await _first(control, bus), take=1)
            published = await bus.fetch("default", batch=10, timeout=0.5)
            return [i.command.step for i in handed], [d.pointer.step for d in published]

    handed, published = asyncio.run(scenario())
    assert len(handed) == 1
    assert sorted(handed + published) == ["a", "b", "c"]


def test_commands_of_another_pool_are_not_handed_to_the_reporter():
    async def scenario():
        async with control_plane() as (control, bus):
            await control.start(load_playbook(GPU_CHAIN), source=GPU_CHAIN)
            first = await _first(control, bus, pool="gpu")
            handed = await _done(control, first, pool="default")
            [delivery] = await bus.fetch("gpu", timeout=1.0)
            return handed, delivery.pointer.step

    assert asyncio.run(scenario()) == ([], "middle")


def test_a_silent_worker_loses_its_handed_command_to_the_bus():
    """The worker that got `middle` neither reports nor renews: after the lease the command is
    delivered through the bus, another worker claims it, and the late report is refused: the
    command is no longer that worker's (nor anybody's, once it ended)."""

    async def scenario():
        async with control_plane(lease=0.2) as (control, bus):
            execution_id = await control.start(load_playbook(CHAIN), source=CHAIN)
            [lost] = await _done(control, await _first(control, bus))
            [delivery] = await bus.fetch("default", timeout=2.0)  # after the lease ran out
            pointer = delivery.pointer
            retaken = await control.claim(pointer, delivery.attempt)
            assert retaken is not None
            [last] = await _done(control, retaken)
            with pytest.raises(NotHeldError, match="is not running"):
                await _done(control, lost)  # the silent worker comes back: not its command
            assert await _done(control, last) == []
            with pytest.raises(NotHeldError, match="is not running"):
                await _done(control, last)  # again: that command has ended
            summary = await control.wait(execution_id)
            return pointer, lost, summary.status, await _log(control, execution_id)

    pointer, lost, status, events = asyncio.run(scenario())
    assert pointer == Pointer(lost.command.execution_id, lost.command.command_id, "middle")
    assert status == "done"
    assert_one_ending_per_step_run(pointer.execution_id, events)


def test_renewing_keeps_a_handed_command_with_its_worker():
    async def scenario():
        async with control_plane(lease=0.3) as (control, bus):
            execution_id = await control.start(load_playbook(CHAIN), source=CHAIN)
            [held] = await _done(control, await _first(control, bus))
            for _ in range(6):  # 0.6 s: twice the lease
                await asyncio.sleep(0.1)
                await control.renew([(execution_id, held.command.command_id, held.token)])
            on_bus = await bus.fetch("default", timeout=0.05)
            [last] = await _done(control, held)
            await _done(control, last)
            return on_bus, (await control.wait(execution_id)).status

    assert asyncio.run(scenario()) == ([], "done")


def test_an_ended_execution_drops_the_lease_of_its_handed_command():
    async def scenario():
        async with control_plane(lease=0.2) as (control, bus):
            execution_id = await control.start(load_playbook(CHAIN), source=CHAIN)
            await _done(control, await _first(control, bus))
            await control.cancel(execution_id)
            return await bus.fetch("default", timeout=0.6)  # well past the lease

    assert asyncio.run(scenario()) == []
