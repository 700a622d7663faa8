"""Cancel notices of the NATS bus: best-effort broadcasts over core NATS, not kept in the stream.

A notice goes to `noetl.cancel.<stream>` (see `noetl.bus.jetstream`): every bus of the stream
that listens hears each one; nats-py subscribes again after a reconnect, and a notice sent while
the server is away is buffered by the client and sent on reconnection, or dropped (logged) when
the buffer is full.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg

from noetl.bus.jetstream import (
    ACK_TIMEOUT,
    TRANSIENT,
    cancel_subject,
    decode_cancel,
    encode_cancel,
    failure,
)
from noetl.bus.port import CancelListener
from noetl.errors import BusError

log = logging.getLogger(__name__)


class CancelNotices:
    """The cancel notices of one bus: announcing them, listening for them."""

    def __init__(self, client: Client, stream: str, where: str) -> None:
        self._nc = client
        self._subject = cancel_subject(stream)
        self._where = where

    async def announce(self, command_ids: Sequence[str]) -> None:
        """Publish one notice with `command_ids` to the buses of this stream listening now."""
        if not command_ids:
            return
        try:
            await self._nc.publish(self._subject, encode_cancel(command_ids))
        except nats.errors.Error as exc:
            # Best effort by contract: the executions have ended either way.
            log.warning(
                "cancel notice for %d command(s) not sent to %s: %r",
                len(command_ids),
                self._where,
                exc,
            )

    async def listen(self, listener: CancelListener) -> None:
        """Call `listener` with the ids of every cancel notice of this stream from now on."""
        subject = self._subject

        async def heard(msg: Msg) -> None:
            try:
                listener(decode_cancel(msg.data, msg.subject))
            except BusError as exc:
                log.warning("ignoring a cancel notice: %s", exc)
            except Exception:
                log.exception("cancel listener failed on %s", subject)

        try:
            await self._nc.subscribe(subject, cb=heard)
        except nats.errors.Error as exc:
            raise failure(self._where, f"subscribing to {subject}", exc) from None
        try:
            await self._nc.flush(timeout=int(ACK_TIMEOUT))  # the server has it: "from now on"
        except (TimeoutError, *TRANSIENT) as exc:
            # The client sends the subscription again when it reconnects.
            log.warning("subscription to %s not confirmed by %s: %r", subject, self._where, exc)
