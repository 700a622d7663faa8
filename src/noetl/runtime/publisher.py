"""Commands onto the bus, off the control plane's pump.

By the time commands are published their `command.issued` events are in the log, so whoever
waits for a write (a start, a worker's report) is answered without waiting for the bus. A bus
that is down (NATS restarting) is retried with backoff until it takes the pointers; a server
restart republishes every pending command anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from noetl.bus.port import CommandBus, Pointer

log = logging.getLogger(__name__)
FIRST_DELAY = 0.05  # seconds before the first retry; doubled up to MAX_DELAY
MAX_DELAY = 5.0
CLOSE_PATIENCE = 5.0  # seconds publishing may still take when the control plane closes


class Publisher:
    """Publishes pointers and announces cancels in background tasks, retried until done."""

    def __init__(self, bus: CommandBus) -> None:
        self.bus = bus
        self._sending: set[asyncio.Task[None]] = set()

    def send(self, pointers: Sequence[Pointer], cancelled: Sequence[str]) -> None:
        """Publish `pointers` and announce the cancel of the `cancelled` commands, soon."""
        if not pointers and not cancelled:
            return
        task = asyncio.get_running_loop().create_task(self._send(list(pointers), list(cancelled)))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def drain(self) -> None:
        """Wait until everything sent so far is on the bus."""
        while self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)

    async def close(self) -> None:
        """Give what is still being sent a moment, then stop retrying."""
        if self._sending:
            await asyncio.wait(list(self._sending), timeout=CLOSE_PATIENCE)
        for task in list(self._sending):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _send(self, pointers: list[Pointer], cancelled: list[str]) -> None:
        delay = FIRST_DELAY
        while True:
            try:
                if pointers:
                    await self.bus.publish(pointers)
                    pointers = []
                if cancelled:
                    await self.bus.announce_cancel(cancelled)
                return
            except Exception as exc:  # the bus is down: it will be back, the log has them
                log.warning(
                    "could not publish %d commands, retrying in %.2f s: %s",
                    len(pointers) or len(cancelled),
                    delay,
                    exc,
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_DELAY)
