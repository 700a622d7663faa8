"""Dead letters of the NATS bus: pointers past `max_deliver`, buried and handed to `on_dead`.

The handlers hear of a dead pointer two ways, both on core NATS subjects in the queue group
`noetl-dead-letters` (one of several server replicas handles each): JetStream's MAX_DELIVERIES
advisory when the last lease runs out, and the notice a delivery announces when it is nacked on
its last attempt. The handler reads the pointer back, deletes it from the stream (whoever deletes
it owns it) and awaits `on_dead(pointer)`. See `noetl.bus.nats` for why this is not done by
`fetch`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable

import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.client import JetStreamContext

from noetl.bus.jetstream import CONSUMER_PREFIX, decode
from noetl.bus.port import Pointer
from noetl.errors import BusError

log = logging.getLogger(__name__)

DEAD_QUEUE = "noetl-dead-letters"


class DeadLetters:
    """The dead-letter handling of one bus: listening, announcing, burying."""

    def __init__(
        self,
        client: Client,
        js: JetStreamContext,
        stream: str,
        on_dead: Callable[[Pointer], Awaitable[None]] | None,
    ) -> None:
        self._nc = client
        self._js = js
        self.stream = stream
        self._on_dead = on_dead
        self._burials: set[asyncio.Task[None]] = set()
        self._closed = False

    @property
    def subject(self) -> str:
        """Where nacked-on-their-last-attempt deliveries are announced."""
        return f"noetl.dead.{self.stream}"

    async def listen(self) -> None:
        """Hear of dead pointers from now on (the bus given `on_dead` does)."""
        advisory = f"$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{self.stream}.*"
        for subject in (advisory, self.subject):
            await self._nc.subscribe(subject, queue=DEAD_QUEUE, cb=self._heard)

    async def announce(self, msg: Msg) -> None:
        """Tell the handlers that `msg` was nacked on its last attempt (nats errors raise)."""
        notice = {"stream_seq": msg.metadata.sequence.stream, "consumer": msg.metadata.consumer}
        await self._nc.publish(self.subject, json.dumps(notice).encode())

    async def close(self) -> None:
        """Hear of no more, and let the burials under way finish."""
        self._closed = True
        if self._burials:
            await asyncio.gather(*self._burials, return_exceptions=True)

    async def _heard(self, msg: Msg) -> None:
        try:
            notice = json.loads(msg.data)
            seq = int(notice["stream_seq"])
            consumer = str(notice.get("consumer") or "")
        except (ValueError, KeyError, TypeError):
            log.warning("ignoring a malformed dead-letter notice on %s", msg.subject)
            return
        if self._closed or not consumer.startswith(CONSUMER_PREFIX):
            return
        task = asyncio.get_running_loop().create_task(self._bury(seq))
        self._burials.add(task)
        task.add_done_callback(self._burials.discard)

    async def _bury(self, seq: int) -> None:
        """Take the dead pointer out of the stream and hand it to `on_dead` (once)."""
        try:
            raw = await self._js.get_msg(self.stream, seq)
            pointer = decode(raw.data or b"", raw.subject or "")
            await self._js.delete_msg(self.stream, seq)  # the one that deletes it owns it
        except nats.js.errors.NotFoundError:
            return  # buried already (the notice and the advisory, or another replica)
        except (nats.errors.Error, BusError):
            log.exception("cannot bury dead pointer %d of stream %s", seq, self.stream)
            return
        if self._on_dead is None:
            return
        try:
            await self._on_dead(pointer)
        except Exception:
            # The bus cannot do more than report it; the runtime's handler owns the recovery.
            log.exception("on_dead handler failed for command %s", pointer.command_id)
