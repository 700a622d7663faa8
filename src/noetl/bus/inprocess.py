"""In-process command bus (embedded mode): per-pool queues with leases, in one event loop.

It behaves like the JetStream work queue of the distributed mode, so the runtime and the worker
cannot tell them apart: a fetched pointer is leased for `ack_wait` seconds (renewed by
`in_progress`), redelivered with `attempt + 1` when the lease runs out or on `nack`, and dead
after `max_deliver` deliveries (then `on_dead(pointer)` is awaited). Nothing polls: waiting
fetchers sleep on futures and leases are `call_later` timers. Cancel notices are handed to the
listeners at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence

from noetl.bus.port import MAX_DELIVER, Backlog, CancelListener, Delivery, Pointer
from noetl.errors import BusError

log = logging.getLogger(__name__)

_QUEUED = 0  # waiting in its pool's ready queue
_LEASED = 1  # delivered, lease timer running
_DELAYED = 2  # nacked with a delay, timer running
_FINISHED = 3  # acked or dead: never delivered again


class _Message:
    __slots__ = ("deliveries", "pointer", "state", "timer")

    def __init__(self, pointer: Pointer) -> None:
        self.pointer = pointer
        self.deliveries = 0
        self.state = _QUEUED
        self.timer: asyncio.TimerHandle | None = None


class _Pool:
    """Ready messages of one pool and the fetchers waiting for them."""

    __slots__ = ("ready", "waiters")

    def __init__(self) -> None:
        self.ready: deque[_Message] = deque()
        self.waiters: deque[asyncio.Future[None]] = deque()

    def wake_one(self) -> None:
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def wake_all(self) -> None:
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)


class InProcessDelivery:
    """A leased pointer; only the latest delivery of a message may nack or extend it."""

    __slots__ = ("_bus", "_message", "attempt", "pointer")

    def __init__(self, bus: InProcessBus, message: _Message) -> None:
        self._bus = bus
        self._message = message
        self.pointer = message.pointer
        self.attempt = message.deliveries

    async def ack(self) -> None:
        """Finish the message (even from an older delivery: the work is done either way)."""
        self._bus._finish(self._message)

    async def nack(self, delay: float = 0.0) -> None:
        """Redeliver after `delay` seconds (dead instead when out of deliveries)."""
        if self._is_current():
            self._bus._release(self._message, delay)

    async def in_progress(self) -> None:
        """Restart the lease: another `ack_wait` seconds from now."""
        if self._is_current():
            self._bus._lease(self._message)

    def _is_current(self) -> bool:
        message = self._message
        return message.state == _LEASED and message.deliveries == self.attempt


class InProcessBus:
    """Command bus inside one process; see the module docstring for its delivery rules."""

    def __init__(
        self,
        ack_wait: float = 30.0,
        max_deliver: int = MAX_DELIVER,
        on_dead: Callable[[Pointer], Awaitable[None]] | None = None,
    ) -> None:
        if ack_wait <= 0 or max_deliver < 1:
            raise BusError(
                f"in-process bus needs ack_wait > 0 and max_deliver >= 1, "
                f"got ack_wait={ack_wait}, max_deliver={max_deliver}"
            )
        self._ack_wait = ack_wait
        self._max_deliver = max_deliver
        self._on_dead = on_dead
        self._pools: dict[str, _Pool] = {}
        self._timed: set[_Message] = set()  # leased or delayed: their timers end on close
        self._dead_letters: set[asyncio.Task[None]] = set()
        self._cancel_listeners: list[CancelListener] = []
        self._closed = False

    async def publish(self, pointers: Sequence[Pointer]) -> None:
        """Queue each pointer on its pool."""
        if self._closed:
            raise BusError("cannot publish: the in-process bus is closed")
        for pointer in pointers:
            self._enqueue(_Message(pointer))

    async def fetch(self, pool: str, *, batch: int = 1, timeout: float = 1.0) -> list[Delivery]:
        """Up to `batch` deliveries from `pool`, waiting up to `timeout` s for the first."""
        if self._closed:
            raise BusError(f"cannot fetch from pool {pool!r}: the in-process bus is closed")
        queue = self._pool(pool)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            taken = self._take(queue, max(batch, 1))
            if taken or self._closed:
                return taken
            remaining = deadline - loop.time()
            if remaining <= 0:
                return []
            await self._wait(queue, loop, remaining)

    async def announce_cancel(self, command_ids: Sequence[str]) -> None:
        """Call every cancel listener with `command_ids` now."""
        if self._closed:
            raise BusError("cannot announce a cancel: the in-process bus is closed")
        if not command_ids:
            return
        ids = tuple(command_ids)
        for listener in self._cancel_listeners:
            try:
                listener(ids)
            except Exception:
                # As on NATS, a listener's failure is the listener's: the announcer goes on.
                log.exception("cancel listener failed for %d command(s)", len(ids))

    async def on_cancel(self, listener: CancelListener) -> None:
        """Call `listener` with the ids of every later `announce_cancel`."""
        self._cancel_listeners.append(listener)

    async def ping(self) -> None:
        """Always answers: the bus is this process's memory."""

    async def backlog(self) -> dict[str, Backlog]:
        """Ready and leased pointers per pool."""
        leased: dict[str, int] = {}
        for message in self._timed:
            if message.state == _LEASED:
                leased[message.pointer.pool] = leased.get(message.pointer.pool, 0) + 1
        return {
            name: Backlog(len(pool.ready), leased.get(name, 0))
            for name, pool in self._pools.items()
        }

    async def close(self) -> None:
        """Stop all timers, wake waiting fetchers (they get []) and finish dead-letter calls."""
        if self._closed:
            return
        self._closed = True
        self._cancel_listeners.clear()
        for message in self._timed:
            if message.timer is not None:
                message.timer.cancel()
        self._timed.clear()
        for pool in self._pools.values():
            pool.wake_all()
        if self._dead_letters:
            await asyncio.gather(*self._dead_letters, return_exceptions=True)

    # -- queueing ------------------------------------------------------------------------------

    def _pool(self, name: str) -> _Pool:
        pool = self._pools.get(name)
        if pool is None:
            pool = self._pools[name] = _Pool()
        return pool

    def _enqueue(self, message: _Message) -> None:
        message.state = _QUEUED
        pool = self._pool(message.pointer.pool)
        pool.ready.append(message)
        pool.wake_one()

    def _take(self, pool: _Pool, batch: int) -> list[Delivery]:
        taken: list[Delivery] = []
        ready = pool.ready
        while ready and len(taken) < batch:
            message = ready.popleft()
            if message.state != _QUEUED:
                continue  # acked by an older delivery while it waited here
            message.deliveries += 1
            self._lease(message)
            taken.append(InProcessDelivery(self, message))
        if ready:
            pool.wake_one()  # more is ready than this fetcher wanted: hand it on
        return taken

    @staticmethod
    async def _wait(pool: _Pool, loop: asyncio.AbstractEventLoop, seconds: float) -> None:
        """Sleep until woken by a publish/redelivery/close, or for `seconds`."""
        waiter: asyncio.Future[None] = loop.create_future()
        pool.waiters.append(waiter)
        timer = loop.call_later(seconds, _settle, waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                pool.wake_one()  # we were woken but will not take: pass the wake on
            raise
        finally:
            timer.cancel()
            if waiter in pool.waiters:  # timed out or cancelled: nobody popped it
                pool.waiters.remove(waiter)

    # -- leases --------------------------------------------------------------------------------

    def _lease(self, message: _Message) -> None:
        if message.timer is not None:
            message.timer.cancel()
        message.state = _LEASED
        loop = asyncio.get_running_loop()
        message.timer = loop.call_later(self._ack_wait, self._expire, message, message.deliveries)
        self._timed.add(message)

    def _expire(self, message: _Message, attempt: int) -> None:
        if message.state == _LEASED and message.deliveries == attempt and not self._closed:
            self._release(message, 0.0)

    def _release(self, message: _Message, delay: float) -> None:
        """The current delivery is over without an ack: deliver again, or bury."""
        if message.timer is not None:
            message.timer.cancel()
            message.timer = None
        if message.deliveries >= self._max_deliver:
            self._finish(message)
            self._bury(message.pointer)
        elif delay > 0:
            message.state = _DELAYED
            message.timer = asyncio.get_running_loop().call_later(delay, self._requeue, message)
        else:
            self._timed.discard(message)
            self._enqueue(message)

    def _requeue(self, message: _Message) -> None:
        if message.state == _DELAYED and not self._closed:
            message.timer = None
            self._timed.discard(message)
            self._enqueue(message)

    def _finish(self, message: _Message) -> None:
        if message.timer is not None:
            message.timer.cancel()
            message.timer = None
        message.state = _FINISHED
        self._timed.discard(message)

    def _bury(self, pointer: Pointer) -> None:
        if self._on_dead is None:
            log.warning(
                "command %s dead after %d deliveries", pointer.command_id, self._max_deliver
            )
            return
        task = asyncio.get_running_loop().create_task(_call_on_dead(self._on_dead, pointer))
        self._dead_letters.add(task)
        task.add_done_callback(self._dead_letters.discard)


def _settle(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


async def _call_on_dead(on_dead: Callable[[Pointer], Awaitable[None]], pointer: Pointer) -> None:
    try:
        await on_dead(pointer)
    except Exception:
        # The bus cannot do more than report it; the runtime's handler owns the recovery.
        log.exception("on_dead handler failed for command %s", pointer.command_id)
