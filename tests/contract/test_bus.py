"""Contract of the command bus port, run against every adapter (see conftest.py).

Waits are generous on purpose: a test waits long for what must happen and briefly for what must
not, so a slow machine can only make it slower, not wrong.
"""

from __future__ import annotations

import asyncio

import pytest

from noetl.bus.port import Pointer
from noetl.errors import BusError

P1 = Pointer("e1", "e1:a:1:0:-", "a")
P2 = Pointer("e1", "e1:b:2:0:-", "b")
P3 = Pointer("e1", "e1:c:3:0:-", "c")
LONG = 5.0  # seconds to wait for something that must arrive
BRIEF = 0.05  # seconds to wait for something that must not


def test_publish_fetch_ack(bus):
    async def body(b):
        await b.publish([P1])
        [delivery] = await b.fetch("default", timeout=LONG)
        await delivery.ack()
        return delivery.pointer, delivery.attempt, await b.fetch("default", timeout=BRIEF)

    assert bus.run(body) == (P1, 1, [])


def test_fetch_on_empty_pool_times_out_with_nothing(bus):
    async def body(b):
        return await b.fetch("default", timeout=BRIEF)

    assert bus.run(body) == []


def test_fetch_takes_up_to_batch_in_publish_order(bus):
    # "Up to": an adapter may hand out fewer than `batch` (NATS hands out one at a time).
    async def body(b):
        await b.publish([P1, P2, P3])
        first = await b.fetch("default", batch=2, timeout=LONG)
        taken = list(first)
        while len(taken) < 3:
            more = await b.fetch("default", batch=10, timeout=LONG)
            assert more, "a published pointer was not delivered"
            taken.extend(more)
        for delivery in taken:
            await delivery.ack()
        return len(first), [d.pointer for d in taken]

    first, order = bus.run(body)
    assert 1 <= first <= 2
    assert order == [P1, P2, P3]


def test_pools_are_isolated(bus):
    gpu = Pointer("e1", "e1:train:1:0:-", "train", pool="gpu")

    async def body(b):
        await b.publish([gpu])
        elsewhere = await b.fetch("default", timeout=BRIEF)
        [delivery] = await b.fetch("gpu", timeout=LONG)
        await delivery.ack()
        return elsewhere, delivery.pointer

    assert bus.run(body) == ([], gpu)


def test_waiting_fetch_wakes_when_a_pointer_is_published(bus):
    async def body(b):
        waiting = asyncio.create_task(b.fetch("default", timeout=LONG))
        await asyncio.sleep(BRIEF)  # let the fetch start waiting
        await b.publish([P1])
        [delivery] = await waiting
        await delivery.ack()
        return delivery.pointer

    assert bus.run(body) == P1


def test_unacked_delivery_is_redelivered_after_the_lease(bus):
    async def body(b):
        await b.publish([P1])
        [first] = await b.fetch("default", timeout=LONG)
        [second] = await b.fetch("default", timeout=LONG)  # after ack_wait runs out
        await second.ack()
        return first.attempt, second.pointer, second.attempt

    assert bus.run(body, ack_wait=0.2) == (1, P1, 2)


def test_in_progress_extends_the_lease(bus):
    ack_wait = 1.0

    async def body(b):
        await b.publish([P1])
        [delivery] = await b.fetch("default", timeout=LONG)
        await asyncio.sleep(ack_wait * 0.6)
        await delivery.in_progress()
        await asyncio.sleep(ack_wait * 0.6)  # past the first lease, inside the extended one
        during = await b.fetch("default", timeout=BRIEF)
        [again] = await b.fetch("default", timeout=LONG)  # the extended lease runs out too
        await again.ack()
        return during, again.attempt

    assert bus.run(body, ack_wait=ack_wait) == ([], 2)


def test_nack_redelivers_after_the_delay(bus):
    async def body(b):
        await b.publish([P1])
        [delivery] = await b.fetch("default", timeout=LONG)
        await delivery.nack(delay=0.5)
        during_delay = await b.fetch("default", timeout=BRIEF)
        [again] = await b.fetch("default", timeout=LONG)
        await again.nack()
        [third] = await b.fetch("default", timeout=LONG)
        await third.ack()
        return during_delay, again.attempt, third.attempt

    assert bus.run(body) == ([], 2, 3)


class Graveyard:
    """An `on_dead` handler: keeps each dead pointer and wakes whoever waits for a burial."""

    def __init__(self) -> None:
        self.dead: list[Pointer] = []
        self.buried = asyncio.Event()

    async def __call__(self, pointer: Pointer) -> None:
        self.dead.append(pointer)
        self.buried.set()


def test_after_max_deliver_the_pointer_is_dead_and_not_delivered_again(bus):
    graveyard = Graveyard()

    async def body(b):
        await b.publish([P1])
        attempts = []
        for _ in range(3):
            [delivery] = await b.fetch("default", timeout=LONG)
            attempts.append(delivery.attempt)
            await delivery.nack()
        await asyncio.wait_for(graveyard.buried.wait(), LONG)
        return attempts, await b.fetch("default", timeout=0.3)

    attempts, after = bus.run(body, max_deliver=3, on_dead=graveyard)
    assert attempts == [1, 2, 3]
    assert after == []
    assert graveyard.dead == [P1]


def test_lease_expiry_counts_towards_max_deliver(bus):
    graveyard = Graveyard()

    async def body(b):
        await b.publish([P2])
        [delivery] = await b.fetch("default", timeout=LONG)
        await asyncio.wait_for(graveyard.buried.wait(), LONG)  # never acked: the lease runs out
        return delivery.attempt, await b.fetch("default", timeout=0.3)

    assert bus.run(body, ack_wait=0.1, max_deliver=1, on_dead=graveyard) == (1, [])
    assert graveyard.dead == [P2]


def test_closing_wakes_waiting_fetchers_and_refuses_more_work(bus):
    async def body(b):
        waiting = asyncio.create_task(b.fetch("default", timeout=LONG))
        await asyncio.sleep(BRIEF)
        await b.close()
        woken = await asyncio.wait_for(waiting, LONG)
        with pytest.raises(BusError, match="closed"):
            await b.publish([P1])
        with pytest.raises(BusError, match="closed"):
            await b.fetch("default", timeout=BRIEF)
        with pytest.raises(BusError, match="closed"):
            await b.announce_cancel([P1.command_id])
        return woken

    assert bus.run(body) == []


# -- cancel notices ------------------------------------------------------------------------------


class Heard:
    """A cancel listener that keeps what it heard and lets a test wait for it."""

    def __init__(self) -> None:
        self.notices: list[list[str]] = []
        self._more = asyncio.Event()

    def __call__(self, command_ids) -> None:
        self.notices.append(list(command_ids))
        self._more.set()

    async def wait(self, count: int) -> list[list[str]]:
        async with asyncio.timeout(LONG):
            while len(self.notices) < count:
                self._more.clear()
                await self._more.wait()
        return self.notices


def test_a_cancel_notice_reaches_every_listener(bus):
    async def body(b):
        first, second = Heard(), Heard()
        await b.on_cancel(first)
        await b.on_cancel(second)
        await b.announce_cancel([P1.command_id, P2.command_id])
        await b.announce_cancel([P3.command_id])
        return await first.wait(2), await second.wait(2)

    ids = [[P1.command_id, P2.command_id], [P3.command_id]]
    assert bus.run(body) == (ids, ids)


def test_a_cancel_notice_is_not_a_pointer(bus):
    # Notices are broadcast and not kept: nothing to fetch, and nothing for a late listener.
    async def body(b):
        early = Heard()
        await b.on_cancel(early)
        await b.announce_cancel([P1.command_id])
        await early.wait(1)
        late = Heard()
        await b.on_cancel(late)
        await asyncio.sleep(BRIEF)
        return await b.fetch("default", timeout=BRIEF), late.notices

    assert bus.run(body) == ([], [])


def test_backlog_counts_waiting_and_unacked_pointers_per_pool(bus):
    async def settled(b, want):
        """The backlog of pool default once it reads `want` (JetStream counts asynchronously)."""
        for _ in range(100):
            found = (await b.backlog()).get("default")
            if found is not None and (found.pending, found.ack_pending) == want:
                return want
            await asyncio.sleep(0.05)
        return found.pending, found.ack_pending

    async def body(b):
        await b.publish([P1, P2, P3])
        # The first fetch makes the pool known to every adapter (NATS: its consumer).
        taken = []
        while not taken:
            taken = await b.fetch("default", batch=1, timeout=LONG)
        running = await settled(b, (2, 1))
        await taken[0].ack()
        acked = await settled(b, (2, 0))
        return running, acked

    assert bus.run(body) == ((2, 1), (2, 0))


def test_a_working_bus_answers_the_readiness_ping(bus):
    async def body(b):
        answered = await b.ping()
        await b.publish([P1])
        [delivery] = await b.fetch("default", timeout=LONG)
        await delivery.ack()
        return answered, delivery.pointer

    assert bus.run(body) == (None, P1)
