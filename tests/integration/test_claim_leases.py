"""A worker may claim only what the server handed out (D3, D13): the control plane leases every
command it gives a worker, nobody else claims it while that lease runs (whatever delivery
attempt they name), an attempt the bus cannot have delivered is refused, and only the holder's
claim token renews a lease. Memory store and an in-process bus nobody else reads: the tests
play the workers."""

from __future__ import annotations

import asyncio
import logging

import pytest

from noetl.bus.inprocess import InProcessBus
from noetl.bus.port import MAX_DELIVER, Pointer
from noetl.dsl.load import load_playbook
from noetl.errors import NotHeldError
from noetl.runtime.control import ControlPlane
from support.control_plane import control_plane
from support.engine_sim import worker_event
from support.event_log import assert_one_ending_per_step_run

ONE_STEP = """
apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: one, path: tests/one}
workflow:
  - step: start
    tool: {kind: noop}
"""


async def _started(control: ControlPlane, bus: InProcessBus) -> Pointer:
    """Start ONE_STEP; the pointer of its first command, as the bus delivers it (acked)."""
    await control.start(load_playbook(ONE_STEP), source=ONE_STEP)
    [delivery] = await bus.fetch("default", timeout=1.0)
    await delivery.ack()
    return delivery.pointer


async def _log(control: ControlPlane, execution_id: str) -> list[dict]:
    return [e.to_dict() for e in await control.store.read(execution_id)]


def test_a_held_command_is_claimed_by_nobody_else_while_its_lease_runs():
    async def scenario():
        async with control_plane(lease=30.0) as (control, bus):
            pointer = await _started(control, bus)
            held = await control.claim(pointer, 1, "w-1")
            before = await _log(control, pointer.execution_id)
            takeovers = [await control.claim(pointer, n, "w-2") for n in (2, 5, 1_000_000, 1)]
            after = await _log(control, pointer.execution_id)
            ended = await control.report(
                [worker_event(held.command, ("done", 1))], held.token, pool="default"
            )
            summary = await control.wait(pointer.execution_id)
            return held, takeovers, before == after, ended, summary.status

    held, takeovers, unchanged, ended, status = asyncio.run(scenario())
    assert held is not None and held.token
    assert takeovers == [None, None, None, None]
    assert unchanged  # a refused claim writes nothing
    assert (ended, status) == ([], "done")


def test_an_attempt_the_bus_cannot_have_delivered_yet_is_refused():
    """Attempt n of a pointer exists only (n-1) leases after its command was issued (one of
    slack for replicas' clocks): a fresh command claimed with attempt 1,000,000 or 3 is refused
    and nothing changes; the first delivery's claim then wins."""

    async def scenario():
        async with control_plane(lease=30.0) as (control, bus):
            pointer = await _started(control, bus)
            before = await _log(control, pointer.execution_id)
            forged = [await control.claim(pointer, n, "w-x") for n in (1_000_000, 3)]
            unchanged = before == await _log(control, pointer.execution_id)
            real = await control.claim(pointer, 1, "w-1")
            return forged, unchanged, real

    forged, unchanged, real = asyncio.run(scenario())
    assert forged == [None, None]
    assert unchanged
    assert real is not None and real.command.step == "start"


def test_a_later_delivery_wins_only_once_the_holders_lease_ran_out():
    """The holder goes silent: its lease runs out on the server, the command is delivered again
    and claimed by another worker; the first holder's report and renewal are refused."""

    async def scenario():
        async with control_plane(lease=0.3) as (control, bus):
            pointer = await _started(control, bus)
            silent = await control.claim(pointer, 1, "w-1")
            early = await control.claim(pointer, 2, "w-2")  # its lease is still running
            [again] = await bus.fetch("default", timeout=2.0)  # the lease ran out: on the bus
            retaken = await control.claim(again.pointer, again.attempt, "w-2")
            await again.ack()
            with pytest.raises(NotHeldError, match=r"held\[0\]"):
                await control.renew([(pointer.execution_id, pointer.command_id, silent.token)])
            with pytest.raises(NotHeldError):
                await control.report([worker_event(silent.command, ("done", "late"))], silent.token)
            await control.report([worker_event(retaken.command, ("done", 2))], retaken.token)
            summary = await control.wait(pointer.execution_id)
            return early, again.attempt, retaken, summary, await _log(control, summary.execution_id)

    early, attempt, retaken, summary, events = asyncio.run(scenario())
    assert early is None
    assert attempt == 1  # a new delivery: its claim in the store was forgotten with the lease
    assert retaken is not None
    assert (summary.status, summary.result) == ("done", 2)
    assert_one_ending_per_step_run(summary.execution_id, events)


def test_only_the_holders_token_renews_its_lease():
    """Renewals with a wrong or another command's token are refused and extend nothing: the
    lease runs out as if nobody had renewed. The holder's own renewals keep it."""

    async def scenario():
        async with control_plane(lease=0.3) as (control, bus):
            pointer = await _started(control, bus)
            held = await control.claim(pointer, 1, "w-1")
            ids = (pointer.execution_id, pointer.command_id)
            refusals = 0
            for token in ("guessed", "", held.token[:-1]):
                try:
                    await control.renew([(*ids, token)])
                except NotHeldError:
                    refusals += 1
            for _ in range(2):  # a good renewal after a bad one in one request: neither counts
                with pytest.raises(NotHeldError, match=r"held\[1\]"):
                    await control.renew([(*ids, held.token), (*ids, "guessed")])
                await asyncio.sleep(0.1)
            lapsed = await bus.fetch("default", timeout=1.0)
            for delivery in lapsed:
                await delivery.ack()
            kept = await control.claim(pointer, 1, "w-2")
            for _ in range(6):  # twice the lease, renewed by the new holder
                await asyncio.sleep(0.1)
                await control.renew([(*ids, kept.token)])
            kept_on_bus = await bus.fetch("default", timeout=0.05)
            return refusals, len(lapsed), kept is not None, kept_on_bus

    refusals, lapsed, retaken, kept_on_bus = asyncio.run(scenario())
    assert refusals == 3
    assert lapsed == 1  # not extended by the refused renewals
    assert retaken
    assert kept_on_bus == []


def test_two_deliveries_of_a_command_claiming_at_once_leave_one_holder():
    """A lapsed lease re-issues the command while the bus redelivers it: both deliveries claim
    at the same moment. Exactly one must win (never none: both would be acked and the command
    lost)."""

    async def scenario():
        async with control_plane(lease=30.0) as (control, bus):
            pointer = await _started(control, bus)
            race = await asyncio.gather(
                control.claim(pointer, 2, "w-redelivered"), control.claim(pointer, 1, "w-new")
            )
            return [item is not None for item in race]

    assert sorted(asyncio.run(scenario())) == [False, True]


def test_a_command_whose_lease_keeps_running_out_is_dead_after_max_deliver():
    """Each lapsed lease re-issues the command as a new bus message, so the bus's own delivery
    count never reaches `max_deliver`: the control plane counts the lapses, and the command
    whose every holder goes silent is dead at the bus's bound (not delivered for ever)."""

    async def scenario():
        async with control_plane(lease=0.2) as (control, bus):
            pointer = await _started(control, bus)
            holders = [await control.claim(pointer, 1, "w-1")]
            for _ in range(MAX_DELIVER + 2):  # bounded: before the fix it never stopped
                deliveries = await bus.fetch("default", timeout=1.5)
                if not deliveries:
                    break
                [again] = deliveries
                holders.append(await control.claim(again.pointer, again.attempt, "w-2"))
                await again.ack()
            summary = await asyncio.wait_for(control.wait(pointer.execution_id), 5.0)
            return holders, summary, await _log(control, summary.execution_id)

    holders, summary, events = asyncio.run(scenario())
    assert len(holders) == MAX_DELIVER and all(holder is not None for holder in holders)
    assert summary.status == "failed"
    types = [event["type"] for event in events]
    assert types.count("command.claimed") == MAX_DELIVER
    assert types.count("command.dead") == 1
    [failed] = [event for event in events if event["type"] == "step.failed"]
    assert failed["payload"]["error"]["kind"] == "delivery"


def test_leases_running_out_together_are_one_warning_naming_commands_and_workers(caplog):
    """Three workers go silent at once: one warning line sums their lapses up (commands, steps,
    workers), each lapse is a debug line of its own; a lone lapse keeps its own line."""

    async def scenario():
        async with control_plane(lease=0.3) as (control, bus):
            pointers = [await _started(control, bus) for _ in range(3)]
            for n, pointer in enumerate(pointers):
                await control.claim(pointer, 1, f"w-{n}")
            redelivered = []
            while len(redelivered) < 3:  # the leases ran out: on the bus again
                redelivered += await bus.fetch("default", batch=3, timeout=2.0)
            for delivery in redelivered:
                await delivery.ack()
        async with control_plane(lease=0.3) as (control, bus):
            lone = await _started(control, bus)
            await control.claim(lone, 1, "w-lone")
            [again] = await bus.fetch("default", timeout=2.0)
            await again.ack()
        return pointers, lone

    with caplog.at_level(logging.DEBUG, logger="noetl.runtime.leases"):
        pointers, lone = asyncio.run(scenario())
    lapses = [
        r for r in caplog.records if r.name == "noetl.runtime.leases" and "ran out" in r.message
    ]
    warnings = [r.message for r in lapses if r.levelno == logging.WARNING]
    debug = [r.message for r in lapses if r.levelno == logging.DEBUG]
    assert len(warnings) == 2, warnings
    together, alone = warnings
    assert together.startswith("leases of 3 commands ran out on their workers; delivering them")
    for n, pointer in enumerate(pointers):
        assert f"{pointer.command_id} (step 'start', worker w-{n})" in together
    assert alone == (
        f"lease of command {lone.command_id} (step 'start', worker w-lone) ran out on its "
        "worker; delivering it again"
    )
    assert len(debug) == 4
