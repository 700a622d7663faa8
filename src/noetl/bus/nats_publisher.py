"""Publishing pointers on NATS JetStream, for `noetl.bus.nats.NatsBus.publish`.

A pointer goes to `noetl.commands.<pool>` with header `Nats-Msg-Id: <command_id>` (a re-issue's:
`<command_id>#reissue-<n>`), so one published twice within the stream's duplicate window is
stored once: which is what makes sending again, while the server is away, safe.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

import nats.errors
from nats.js.client import JetStreamContext

from noetl.bus import jetstream
from noetl.bus.jetstream import ACK_TIMEOUT, TRANSIENT, encode, pool_subject
from noetl.bus.port import Pointer

PUBLISH_CHUNK = 1000  # pointers in flight at once: bounds the client's outbound buffer
RETRY_PAUSE = 0.25  # seconds between publish attempts while the server is away


class PointerPublisher:
    """Stores pointers on the stream `stream` under `subject_root`, sending again those without
    an ack until `timeout` s have passed; `check_open(doing)` raises once the bus is closed."""

    def __init__(
        self,
        js: JetStreamContext,
        *,
        stream: str,
        subject_root: str,
        timeout: float,
        where: str,
        check_open: Callable[[str], None],
    ) -> None:
        self._js = js
        self._stream = stream
        self._subject_root = subject_root
        self._timeout = timeout
        self._where = where
        self._check_open = check_open

    async def publish(self, pointers: Sequence[Pointer]) -> None:
        """Store each pointer on its pool's subject; returns once JetStream has them all.

        The pointers of a chunk go out together and their acks are awaited together; those
        without an ack (server away) are sent again until the timeout.
        """
        self._check_open("publish")
        for pointer in pointers:
            pool_subject(pointer.pool)  # refuse a bad pool before publishing anything
        deadline = asyncio.get_running_loop().time() + self._timeout
        for start in range(0, len(pointers), PUBLISH_CHUNK):
            pending = list(pointers[start : start + PUBLISH_CHUNK])
            while pending:
                failed = await self._round(pending, deadline)
                for error in failed.values():
                    if not isinstance(error, TRANSIENT):
                        raise jetstream.failure(self._where, "publishing a pointer", error)
                if failed and asyncio.get_running_loop().time() >= deadline:
                    raise jetstream.failure(
                        self._where,
                        f"publishing {len(failed)} pointer(s) for {self._timeout:g} s",
                        next(iter(failed.values())),
                    )
                pending = [pending[index] for index in failed]
                if pending:
                    await asyncio.sleep(RETRY_PAUSE)
                    self._check_open("publish")

    async def _round(
        self, pointers: Sequence[Pointer], deadline: float
    ) -> dict[int, BaseException]:
        """Send each pointer once and wait for the acks; why each unacked one failed, by index."""
        acks: dict[int, asyncio.Future[Any]] = {}
        failed: dict[int, BaseException] = {}
        for index, pointer in enumerate(pointers):
            try:
                acks[index] = await self._js.publish_async(
                    pool_subject(pointer.pool, self._subject_root),
                    encode(pointer),
                    stream=self._stream,
                    headers={"Nats-Msg-Id": message_id(pointer)},
                )
            except nats.errors.Error as exc:  # e.g. the reconnect buffer is full
                failed[index] = exc
        wait = min(ACK_TIMEOUT, max(deadline - asyncio.get_running_loop().time(), RETRY_PAUSE))
        if acks:
            await asyncio.wait(acks.values(), timeout=wait)
        for index, ack in acks.items():
            if not ack.done():
                ack.cancel()
                failed[index] = nats.errors.TimeoutError()
            elif (error := ack.exception()) is not None:
                failed[index] = error
        return failed


def message_id(pointer: Pointer) -> str:
    """The id JetStream drops duplicates by: the command's, or its re-issue's."""
    if pointer.reissue:
        return f"{pointer.command_id}#reissue-{pointer.reissue}"
    return pointer.command_id
