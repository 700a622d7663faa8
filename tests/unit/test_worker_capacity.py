"""A worker pool's slots: lent by a task that only waits, taken back before new work."""

from __future__ import annotations

import asyncio

import pytest

from noetl.tools.base import occupying, slot_lent
from noetl.worker.capacity import SlotLimit


def test_a_lent_slot_is_free_for_new_work_and_taken_back_before_it():
    async def go() -> list[tuple[str, int, int]]:
        limit = SlotLimit(1)
        parent = limit.take()
        seen = [("held", limit.busy, limit.free())]
        child_done = asyncio.Event()

        async def wait_for_child() -> None:
            with occupying(parent):
                async with slot_lent():
                    seen.append(("lent", limit.busy, limit.free()))
                    await child_done.wait()
                seen.append(("back", limit.busy, limit.free()))

        waiting = asyncio.get_running_loop().create_task(wait_for_child())
        await asyncio.sleep(0)
        child = limit.take()  # the child's command runs on the lent slot
        child_done.set()
        await asyncio.sleep(0)
        seen.append(("returning", limit.busy, limit.free()))  # no slot for new work meanwhile
        child.free()
        await waiting
        parent.free()
        seen.append(("done", limit.busy, limit.free()))
        return seen

    assert asyncio.run(go()) == [
        ("held", 1, 0),
        ("lent", 0, 1),
        ("returning", 1, -1),
        ("back", 1, 0),
        ("done", 0, 1),
    ]


def test_a_nested_wait_lends_nothing_more_and_no_worker_lends_nothing():
    async def go() -> tuple[int, int, int]:
        limit = SlotLimit(2)
        slot = limit.take()
        async with slot_lent():  # outside a worker: nothing to lend
            outside = limit.busy
        with occupying(slot):
            async with slot_lent(), slot_lent():
                nested = limit.busy
        return outside, nested, limit.busy

    assert asyncio.run(go()) == (1, 0, 1)


def test_a_cancelled_wait_takes_its_slot_back_at_once_and_frees_it_once():
    async def go() -> tuple[int, int]:
        limit = SlotLimit(1)
        parent = limit.take()

        async def wait_forever() -> None:
            with occupying(parent):
                async with slot_lent():
                    await asyncio.Event().wait()

        waiting = asyncio.get_running_loop().create_task(wait_forever())
        await asyncio.sleep(0)
        other = limit.take()  # the lent slot is in use: taking it back would have to wait
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        over = limit.busy
        parent.free()
        parent.free()  # a handler frees its slot once, whatever happens
        other.free()
        return over, limit.busy

    assert asyncio.run(go()) == (2, 0)
