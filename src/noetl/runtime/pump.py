"""The one task that changes the control plane's in-memory state.

Events (with the offers of the workers that reported them) and reloads of executions from the
log are queued here from anywhere: requests, timers, workers. The pump takes
everything that queued up meanwhile as one batch, so the control plane decides, writes and
publishes the events of many executions together, and no two coroutines ever change one
execution's state.

A batch that cannot be written never loses what it carried: the executions it touched are
rebuilt from the log before their next decision, each waiting request gets its own error (503
when the store is down: the worker retries), and the server's own events (timers, dead letters,
cancels) are queued again. When the failure is not the store's (a value one request sent), each
submission is tried alone, so one bad request never fails the others batched with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from noetl.engine.events import Event
from noetl.errors import (
    EventCodecError,
    NoetlError,
    NotFoundError,
    NotHeldError,
    StoreError,
    StoreInputError,
    StoreUnavailableError,
)
from noetl.runtime.live import Offer

log = logging.getLogger(__name__)
RETRY_DELAY = 1.0  # seconds before the server's own events of a failed batch are tried again
RETRIES = 300  # how often they are (about five minutes: as long as workers retry reports)


# eq=False, repr=False: a holder of live parts, compared by identity and never printed; each
# method @dataclass generates is compiled when `noetl run` starts (benchmarks/README.md).
@dataclass(eq=False, repr=False)
class Submission:
    """Events queued together, with the offer that waits for them (None: the server's own)."""

    events: Sequence[Event]
    offer: Offer | None = None
    tries: int = 0
    received: float = field(default_factory=time.perf_counter)  # when it was queued


Process = Callable[[list[Submission]], Awaitable[None]]


class Pump:
    """Queues work for the control plane and runs it in batches, in one task."""

    def __init__(
        self,
        process: Process,
        refresh: Callable[[str], Awaitable[None]],
        invalidate: Callable[[Sequence[Submission]], None],
    ) -> None:
        self._process = process  # decide, write and publish one batch of events
        self._refresh = refresh  # rebuild one execution's state from the log
        self._invalidate = invalidate  # a batch could not be written: its states are stale
        self._queue: list[Submission] = []
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
        """Queue events; an `offer` is answered once they are written, or with the reason they
        could not be (it must come with them: the pump takes both in the same batch)."""
        self._queue.append(Submission(events, offer))
        self._submitted += 1
        self._wake.set()

    async def reload(self, execution_id: str) -> None:
        """Rebuild an execution's state from the log, in the pump: a state swapped under a
        batch being written would lose that batch's decisions."""
        reloaded: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._reloads.append((execution_id, reloaded))
        self._wake.set()
        await reloaded

    async def flush(self) -> None:
        """Wait until everything queued so far is decided and written (or has failed)."""
        target = self._submitted
        async with self._progress:
            await self._progress.wait_for(lambda: self._processed >= target)

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue or self._reloads:
                await self._apply_reloads()
                if self._queue:
                    await self._run_batch()

    async def _run_batch(self) -> None:
        batch, self._queue = self._queue, []
        try:
            await self._process(batch)
        except Exception as exc:  # the pump must outlive any one batch
            self._invalidate(batch)
            if len(batch) > 1 and not isinstance(exc, StoreUnavailableError):
                # Maybe one submission's own fault: each alone, so the others still get in.
                for one in batch:
                    await self._run_alone(one)
            else:
                for one in batch:
                    self._failed(one, exc)
        finally:
            for one in batch:  # answered by now unless the batch had nothing to hand
                if one.offer is not None and not one.offer.given.done():
                    one.offer.given.set_result([])
            async with self._progress:
                self._processed += len(batch)
                self._progress.notify_all()

    async def _run_alone(self, one: Submission) -> None:
        try:
            await self._process([one])
        except Exception as exc:
            self._invalidate([one])
            self._failed(one, exc)

    def _failed(self, one: Submission, exc: Exception) -> None:
        """Tell the waiting request why (an error of its own: never one shared by many
        waiters, whose tracebacks would pile up), or queue the server's own events again."""
        if one.offer is not None:
            if not one.offer.given.done():
                one.offer.given.set_exception(refusal(exc))
            return
        one.tries += 1
        if one.tries > RETRIES:
            log.error("gave up writing %d events of the server: %s", len(one.events), exc)
            return
        log.warning("could not write %d events, trying again: %s", len(one.events), exc)
        asyncio.get_running_loop().call_later(RETRY_DELAY, self._requeue, one)

    def _requeue(self, one: Submission) -> None:
        self._queue.append(one)
        self._submitted += 1
        self._wake.set()

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


def refusal(exc: Exception) -> NoetlError:
    """A fresh error for one waiting request: the same class for the errors that say what the
    client did wrong; anything else means the log could not be written now (503, retry)."""
    if isinstance(exc, _OWN_FAULTS):
        return type(exc)(str(exc))
    if type(exc) is StoreError:  # the store failed in a way retrying may not mend (corrupt)
        return StoreError(f"the event log could not be written: {exc}")
    why = str(exc) if isinstance(exc, NoetlError) else f"{type(exc).__name__}: {exc}"
    return StoreUnavailableError(f"the event log could not be written now: {why}")


# Errors of a request's own making: told as they are (4xx), never as "retry later".
_OWN_FAULTS = (NotHeldError, EventCodecError, StoreInputError, NotFoundError)
