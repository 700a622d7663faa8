"""The one task that changes the control plane's in-memory state.

Events (with the offers of the workers that reported them), reloads of executions from the log
and lapsed hand-offs are queued here from anywhere: requests, timers, workers. The pump takes
everything that queued up meanwhile as one batch, so the control plane decides, writes and
publishes the events of many executions together, and no two coroutines ever change one
execution's state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence

from noetl.bus.port import Pointer
from noetl.engine.events import Event
from noetl.runtime.live import Offer

log = logging.getLogger(__name__)
Inbox = list[tuple[str, Event]]
# (events, offers, when the oldest of them was received: `time.perf_counter()`)
Process = Callable[[Inbox, list[Offer], float], Awaitable[None]]


class Pump:
    """Queues work for the control plane and runs it in batches, in one task."""

    def __init__(
        self,
        process: Process,
        refresh: Callable[[str], Awaitable[None]],
        republish: Callable[[list[Pointer]], Awaitable[None]],
        abandon: Callable[[Inbox, Exception], None],
    ) -> None:
        self._process = process  # decide, write and publish one batch of events
        self._refresh = refresh  # rebuild one execution's state from the log
        self._republish = republish  # put lapsed hand-offs on the bus
        self._abandon = abandon  # a batch could not be written
        self._inbox: Inbox = []
        self._received: float | None = None  # when the oldest queued event came in
        self._offers: list[Offer] = []  # decided with the events they came with
        self._lapsed: list[Pointer] = []
        self._reloads: list[tuple[str, asyncio.Future[None]]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._progress = asyncio.Condition()
        self._submitted = 0
        self._processed = 0

    def start(self) -> None:
        """Start the task (inside a running event loop)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Run what is queued, then stop the task."""
        if self._task is not None:
            await self.flush()
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def put(self, events: Sequence[Event], offer: Offer | None = None) -> None:
        """Queue events; an `offer` is answered once they are written (it must come with them:
        the pump takes both in the same batch)."""
        if offer is not None:
            self._offers.append(offer)
        if self._received is None:
            self._received = time.perf_counter()
        self._inbox.extend((e.execution_id, e) for e in events)
        self._submitted += len(events)
        self._wake.set()

    def lapse(self, pointer: Pointer) -> None:
        """Queue a handed-off command whose lease ran out, to be put on the bus."""
        self._lapsed.append(pointer)
        self._wake.set()

    async def reload(self, execution_id: str) -> None:
        """Rebuild an execution's state from the log, in the pump: a state swapped under a
        batch being written would lose that batch's decisions."""
        reloaded: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._reloads.append((execution_id, reloaded))
        self._wake.set()
        await reloaded

    async def flush(self) -> None:
        """Wait until every event queued so far is decided, written and published."""
        target = self._submitted
        async with self._progress:
            await self._progress.wait_for(lambda: self._processed >= target)

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._inbox or self._reloads or self._lapsed:
                await self._apply_reloads()
                await self._put_back_lapsed()
                if self._inbox:
                    await self._run_batch()

    async def _run_batch(self) -> None:
        inbox, self._inbox = self._inbox, []
        offers, self._offers = self._offers, []
        received, self._received = self._received or time.perf_counter(), None
        try:
            await self._process(inbox, offers, received)
        except Exception as exc:  # the pump must outlive any one batch
            log.exception("control plane could not process %d events", len(inbox))
            self._abandon(inbox, exc)
        finally:
            for offer in offers:  # unanswered when the batch failed: nothing handed
                if not offer.given.done():
                    offer.given.set_result([])
        async with self._progress:
            self._processed += len(inbox)
            self._progress.notify_all()

    async def _put_back_lapsed(self) -> None:
        if self._lapsed:
            lapsed, self._lapsed = self._lapsed, []
            try:
                await self._republish(lapsed)
            except Exception:  # a restart of the server republishes every pending command
                log.exception("could not put %d commands back on the bus", len(lapsed))

    async def _apply_reloads(self) -> None:
        while self._reloads:
            asked, self._reloads = self._reloads, []
            for execution_id, reloaded in asked:
                try:
                    await self._refresh(execution_id)
                except Exception as exc:  # the claim that asked fails; the pump goes on
                    reloaded.set_exception(exc)
                else:
                    reloaded.set_result(None)
