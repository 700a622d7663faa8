"""The NATS connection under the bus: how it is opened (reconnecting forever once made) and how
its URL is shown in messages (never with the user and password it may carry)."""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import urlsplit, urlunsplit

import nats
import nats.errors
from nats.aio.client import Client

from noetl.errors import BusError

log = logging.getLogger(__name__)


def redact(url: str) -> str:
    """The server URL without user and password (for messages)."""
    parts = urlsplit(url)
    if parts.hostname is None:
        return "<nats url>"
    host = parts.hostname + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


async def open_client(url: str, where: str, timeout: float) -> Client:
    """A connection that reconnects forever once made; BusError when it cannot be made."""
    seen: list[Exception] = []  # why the attempts failed, for the message
    connected: list[Client] = []  # before the first connection, failing is the BusError's story

    async def on_error(exc: Exception) -> None:
        if connected and (not seen or repr(seen[-1]) != repr(exc)):  # once per cause
            log.warning("NATS %s: %r", where, exc)
        seen.append(exc)

    async def on_disconnect() -> None:
        log.warning("NATS %s: disconnected; reconnecting", where)

    async def on_reconnect() -> None:
        log.info("NATS %s: reconnected", where)

    try:
        client = await asyncio.wait_for(
            nats.connect(
                url,
                name="noetl",
                max_reconnect_attempts=-1,
                reconnect_time_wait=0.25,
                error_cb=on_error,
                disconnected_cb=on_disconnect,
                reconnected_cb=on_reconnect,
            ),
            timeout,
        )
        connected.append(client)
        return client
    except (TimeoutError, OSError, nats.errors.Error) as exc:
        cause = seen[-1] if seen else exc
        reason = str(cause).strip() or type(cause).__name__
        raise BusError(
            f"cannot connect to NATS at {where} within {timeout:g} s: {reason}"
        ) from None
