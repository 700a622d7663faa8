"""NATS JetStream command bus (distributed mode): pointers on a durable work queue.

The stream, consumers and pointer format are in `noetl.bus.jetstream`. Publishing is
`noetl.bus.nats_publisher`: a pointer goes to `noetl.commands.<pool>` with the command's id as
its message id, so one published twice within the stream's duplicate window (2 minutes) is
stored once. A fetch pulls from the pool's durable consumer, and a delivery's `attempt` is
JetStream's delivery count.

Dead letters. A pointer is dead after `max_deliver` deliveries. The bus given `on_dead` (the
server) hears of it, buries it and awaits `on_dead(pointer)` (`noetl.bus.dead_letters`); a
delivery nacked on its last attempt announces itself, since JetStream would only notice at the
next pull. With no bus holding `on_dead`, dead pointers stay in the stream, undelivered. The
consumer keeps `max_deliver` as given rather than `max_deliver + 1` with `fetch` burying the
extra delivery: that needs someone to fetch, and a last lease running out while nobody fetches
would never be buried. All processes should use the same `max_deliver`: a consumer has one.

Cancel notices go over core NATS, best effort: `noetl.bus.cancel_notices`.

Faults. The connection reconnects forever. A fetch while the server is away returns [] after
its timeout instead of raising; a publish retries until `publish_timeout` (safe: the message id
drops doubles). Other nats errors become `BusError`. Opening the connection: `nats_connection`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.client import JetStreamContext

from noetl.bus import jetstream
from noetl.bus.cancel_notices import CancelNotices
from noetl.bus.dead_letters import DeadLetters
from noetl.bus.jetstream import (
    ROOT,
    SUBJECT_ROOT,
    TOKEN,
    TRANSIENT,
    decode,
    pool_subject,
)
from noetl.bus.nats_connection import open_client, redact
from noetl.bus.nats_publisher import PointerPublisher
from noetl.bus.port import MAX_DELIVER, Backlog, CancelListener, Delivery, Pointer
from noetl.errors import BusError

log = logging.getLogger(__name__)


class NatsDelivery:
    """One JetStream delivery; `attempt` is the server's delivery count."""

    __slots__ = ("_bus", "_msg", "attempt", "pointer")

    def __init__(self, bus: NatsBus, msg: Msg, pointer: Pointer) -> None:
        self._bus = bus
        self._msg = msg
        self.pointer = pointer
        self.attempt = int(msg.metadata.num_delivered)

    async def ack(self) -> None:
        """Done: JetStream removes the pointer from the work queue."""
        await self._bus._reply(self._msg.ack, "ack", self.pointer)

    async def nack(self, delay: float = 0.0) -> None:
        """Deliver again after `delay` s; on the last attempt, report the pointer dead instead."""
        if self.attempt >= self._bus.max_deliver:
            await self._bus._notify_dead(self._msg)
            return
        await self._bus._reply(lambda: self._msg.nak(delay=delay or None), "nack", self.pointer)

    async def in_progress(self) -> None:
        """Still working: the server restarts this delivery's `ack_wait`."""
        await self._bus._reply(self._msg.in_progress, "extend the lease of", self.pointer)


class NatsBus:
    """Command bus on NATS JetStream; see the module docstring. Create it with `connect`."""

    def __init__(
        self,
        client: Client,
        where: str,
        *,
        stream: str,
        ack_wait: float,
        max_deliver: int,
        on_dead: Callable[[Pointer], Awaitable[None]] | None,
        publish_timeout: float,
        subject_root: str,
    ) -> None:
        self._nc = client
        self._js: JetStreamContext = client.jetstream()
        self._where = where
        self.stream = stream
        self.subject_root = subject_root
        self.ack_wait = ack_wait
        self.max_deliver = max_deliver
        self._subs: dict[str, JetStreamContext.PullSubscription] = {}
        self._subs_lock = asyncio.Lock()
        self._fetching: set[asyncio.Future[list[Delivery]]] = set()
        self._dead = DeadLetters(client, self._js, stream, on_dead)
        self._cancels = CancelNotices(client, stream, where)
        self._closed = False
        self._publisher = PointerPublisher(
            self._js,
            stream=stream,
            subject_root=subject_root,
            timeout=publish_timeout,
            where=where,
            check_open=self._check_open,
        )

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        stream: str = "NOETL_COMMANDS",
        ack_wait: float = 30.0,
        max_deliver: int = MAX_DELIVER,
        on_dead: Callable[[Pointer], Awaitable[None]] | None = None,
        publish_timeout: float = 30.0,
        connect_timeout: float = 10.0,
        subject_root: str = SUBJECT_ROOT,
    ) -> NatsBus:
        """Connect to `url`, make sure the stream is there and (with `on_dead`) listen for
        dead letters. Consumers are made per pool on the first fetch from it. Another
        `subject_root` (with its own `stream`) keeps several installations or test runs on one
        NATS server apart."""
        if (
            ack_wait <= 0
            or max_deliver < 1
            or not TOKEN.match(stream)
            or not ROOT.match(subject_root)
        ):
            raise BusError(
                f"NATS bus needs ack_wait > 0, max_deliver >= 1, a stream name of letters, "
                f"digits, '-' and '_', and a subject root of such tokens joined by dots; got "
                f"ack_wait={ack_wait}, max_deliver={max_deliver}, stream={stream!r}, "
                f"subject_root={subject_root!r}"
            )
        where = redact(url)
        client = await open_client(url, where, connect_timeout)
        bus = cls(
            client,
            where,
            stream=stream,
            ack_wait=ack_wait,
            max_deliver=max_deliver,
            on_dead=on_dead,
            publish_timeout=publish_timeout,
            subject_root=subject_root,
        )
        try:
            await jetstream.ensure_stream(bus._js, stream, where, subject_root)
            if on_dead is not None:
                await bus._dead.listen()
        except BaseException:
            await client.close()
            raise
        return bus

    # -- publishing ----------------------------------------------------------------------------

    async def publish(self, pointers: Sequence[Pointer]) -> None:
        """Store each pointer on its pool's subject; returns once JetStream has them all
        (sent again while the server is away, until `publish_timeout`)."""
        await self._publisher.publish(pointers)

    # -- fetching ------------------------------------------------------------------------------

    async def fetch(self, pool: str, *, batch: int = 1, timeout: float = 1.0) -> list[Delivery]:
        """Up to `batch` deliveries from `pool`, waiting up to `timeout` s; [] while the server
        is unreachable. Closing the bus ends a waiting fetch with []."""
        self._check_open(f"fetch from pool {pool!r}")
        pool_subject(pool)  # refuse a bad pool name before anything else
        pulling = asyncio.ensure_future(self._pull(pool, max(batch, 1), max(timeout, 0.001)))
        self._fetching.add(pulling)
        try:
            return await pulling
        except asyncio.CancelledError:
            caller = asyncio.current_task()
            if self._closed and caller is not None and not caller.cancelling():
                return []  # close() cancelled the pull, not our caller
            raise
        finally:
            self._fetching.discard(pulling)

    async def _pull(self, pool: str, batch: int, timeout: float) -> list[Delivery]:
        """One delivery as soon as one is there (see `_pull_one`), or [] after `timeout`.

        `batch` is an upper bound the port allows; this adapter hands out one message per
        fetch because nats-py's fetch(n > 1) that had to wait for its first message then waits
        out the whole timeout for the other n - 1. The worker pool fetches again at once while
        it has free slots, so throughput does not suffer.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return []
            msgs = await self._pull_one(pool, remaining)
            if msgs is None:
                return []
            deliveries: list[Delivery] = [
                d for msg in msgs if (d := await self._delivery(msg)) is not None
            ]
            if deliveries:
                return deliveries  # else: only a malformed message came; keep waiting

    async def _pull_one(self, pool: str, timeout: float) -> list[Msg] | None:
        """Messages of one fetch; None when the fetch timed out or the server is away."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            sub = await self._subscription(pool)
            return list(await sub.fetch(1, timeout=max(timeout, 0.001)))
        except TimeoutError:  # nothing came (nats-py raises both kinds of timeout)
            return None
        except (*TRANSIENT, nats.js.errors.NotFoundError) as exc:
            # Server away (the subscription survives the reconnect), or the consumer vanished
            # (bound again on the next fetch). Wait out the timeout so that a caller's fetch
            # loop does not spin while the server is away.
            log.warning("fetch from pool %r on %s: %r; retrying", pool, self._where, exc)
            if isinstance(exc, nats.js.errors.NotFoundError):
                await self._unbind(pool)
            await asyncio.sleep(max(deadline - loop.time(), 0.0))
            return None
        except nats.errors.Error as exc:
            if self._closed:
                return None
            raise self._failure(f"fetching from pool {pool!r}", exc) from None

    async def _delivery(self, msg: Msg) -> NatsDelivery | None:
        """The delivery of a message; None for one that is no pointer (terminated, logged)."""
        try:
            return NatsDelivery(self, msg, decode(msg.data, msg.subject))
        except BusError as exc:
            log.error("dropping a message that is no command pointer: %s", exc)
            with contextlib.suppress(nats.errors.Error):
                await msg.term()
            return None

    async def _unbind(self, pool: str) -> None:
        sub = self._subs.pop(pool, None)
        if sub is not None:
            with contextlib.suppress(nats.errors.Error, ValueError):
                await sub.unsubscribe()

    async def _subscription(self, pool: str) -> JetStreamContext.PullSubscription:
        sub = self._subs.get(pool)
        if sub is not None:
            return sub
        async with self._subs_lock:
            sub = self._subs.get(pool)
            if sub is None:
                name = await jetstream.ensure_consumer(
                    self._js,
                    self.stream,
                    pool,
                    ack_wait=self.ack_wait,
                    max_deliver=self.max_deliver,
                    where=self._where,
                    root=self.subject_root,
                )
                sub = await self._js.pull_subscribe_bind(consumer=name, stream=self.stream)
                self._subs[pool] = sub
            return sub

    # -- cancel notices ------------------------------------------------------------------------

    async def announce_cancel(self, command_ids: Sequence[str]) -> None:
        """Publish one notice with `command_ids` to the buses of this stream listening now."""
        self._check_open("announce a cancel")
        await self._cancels.announce(command_ids)

    async def on_cancel(self, listener: CancelListener) -> None:
        """Call `listener` with the ids of every cancel notice of this stream from now on."""
        self._check_open("listen for cancel notices")
        await self._cancels.listen(listener)

    # -- dead letters --------------------------------------------------------------------------

    async def _notify_dead(self, msg: Msg) -> None:
        """A delivery was nacked on its last attempt: tell the dead-letter handlers."""
        pointer = decode(msg.data, msg.subject)
        await self._reply(lambda: self._dead.announce(msg), "report dead", pointer)

    # -- shared --------------------------------------------------------------------------------

    async def backlog(self) -> dict[str, Backlog]:
        """Each pool consumer's `num_pending` and `num_ack_pending`, as JetStream counts them."""
        self._check_open("read the stream's consumers")
        try:
            consumers = await self._js.consumers_info(self.stream)
        except (nats.errors.Error, TimeoutError) as exc:
            raise self._failure("read the stream's consumers", exc) from None
        return {
            info.name.removeprefix(jetstream.CONSUMER_PREFIX): Backlog(
                int(info.num_pending or 0), int(info.num_ack_pending or 0)
            )
            for info in consumers
            if info.name and info.name.startswith(jetstream.CONSUMER_PREFIX)
        }

    async def ping(self) -> None:
        """A JetStream round trip (the stream's info): NATS and JetStream both answer."""
        self._check_open("check the stream")
        if not self._nc.is_connected:
            raise BusError(f"NATS {self._where}: not connected (reconnecting)")
        try:
            await self._js.stream_info(self.stream)
        except (nats.errors.Error, TimeoutError) as exc:
            raise self._failure(f"reading stream {self.stream}", exc) from None

    async def close(self) -> None:
        """End waiting fetches (they return []), finish dead-letter handling, disconnect."""
        if self._closed:
            return
        self._closed = True
        pulls = list(self._fetching)
        for pulling in pulls:
            pulling.cancel()
        # Let them end before the connection does (nats-py turns a cancellation that lands
        # after the close into ConnectionClosedError).
        await asyncio.gather(*pulls, return_exceptions=True)
        await self._dead.close()
        with contextlib.suppress(nats.errors.Error, asyncio.TimeoutError):
            await self._nc.flush(timeout=1)  # acks still in the client's buffer
        await self._nc.close()

    async def _reply(self, send: Callable[[], Awaitable[Any]], what: str, p: Pointer) -> None:
        try:
            await send()
        except nats.errors.ConnectionClosedError:
            raise BusError(
                f"cannot {what} command {p.command_id}: the NATS bus is closed"
            ) from None
        except nats.errors.Error as exc:
            raise self._failure(f"trying to {what} command {p.command_id}", exc) from None

    def _check_open(self, doing: str) -> None:
        if self._closed:
            raise BusError(f"cannot {doing}: the NATS bus on {self._where} is closed")

    def _failure(self, doing: str, exc: BaseException) -> BusError:
        return jetstream.failure(self._where, doing, exc)
