"""The worker pool: asyncio workers that take pointers from the bus and run their commands.

The same code runs embedded (the source is the in-process `ControlPlane`) and distributed (the
source claims through the server's API). A worker: fetch a pointer -> claim the command -> run
its pipeline -> report the events -> ack. The report offers to run one more command: when the
step leads to a next command of the same execution (a chain), the source hands it back with the
answer and the worker runs it at once, without a bus delivery or a claim, then reports again.
Each handler holds one of the pool's `concurrency` slots (`noetl.worker.capacity`); a task that
only waits for a child execution lends its slot to the work that needs one.

A lease heartbeat keeps long tasks from being given to another worker: `renew` at the source
with the claim token (the server leases every command it hands out) and, for a delivered
command, `in_progress` on the bus too. A command whose
execution ended is cancelled where it runs (the bus's cancel notices reach `cancel`), reports
nothing and is acked.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable, Sequence

from noetl.bus.port import CommandBus, Delivery
from noetl.engine.commands import Command
from noetl.engine.events import STEP_FAILED, Event
from noetl.errors import NoetlError
from noetl.store.results import ResultStore
from noetl.tools.base import Resources, occupying
from noetl.worker import output
from noetl.worker.capacity import Slot, SlotLimit
from noetl.worker.pipeline import run_command
from noetl.worker.references import externalize, resolve
from noetl.worker.source import CommandSource, WorkItem, holding
from noetl.worker.step_run import Runner

log = logging.getLogger(__name__)
# Cancelled command ids remembered for a notice that overtakes the answer to the claim.
_REMEMBERED_CANCELS = 4096


class WorkerPool:
    """`concurrency` workers of one pool."""

    def __init__(
        self,
        bus: CommandBus,
        source: CommandSource,
        resources: Resources,
        *,
        results: ResultStore | None = None,
        inline_limit: int = 64 * 1024,
        pool: str = "default",
        concurrency: int = 4,
        heartbeat: float = 10.0,
        worker_id: str = "worker",
    ) -> None:
        self.bus = bus
        self.worker_id = worker_id
        self.source = source
        self.resources = resources
        self.results = results  # large results, stored by reference past `inline_limit` bytes
        self.inline_limit = inline_limit
        self.pool = pool
        self.concurrency = max(1, concurrency)
        self._slots = SlotLimit(self.concurrency)
        self.heartbeat = heartbeat
        self._fetcher: asyncio.Task[None] | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self._running: dict[str, asyncio.Task[None]] = {}  # command id -> the task running it
        self._cancelling: set[str] = set()  # commands whose task was cancelled by `cancel`
        self._cancelled: dict[str, None] = {}  # insertion-ordered: the oldest are forgotten
        self._stopping = False
        output.install()  # what tasks print is captured per attempt

    def start(self) -> None:
        """Start fetching work (inside a running event loop)."""
        self._fetcher = asyncio.get_running_loop().create_task(self._fetch_loop())

    async def stop(self, *, drain: bool = True) -> None:
        """Stop taking work; with `drain`, let running commands finish and report first."""
        self._stopping = True
        if self._fetcher is not None:
            self._fetcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._fetcher
            self._fetcher = None
        if not drain:
            self.cancel(list(self._running))
        while self._handlers:
            await asyncio.wait(list(self._handlers))

    def running(self) -> list[str]:
        """Ids of the commands running now (those waiting for a child execution included)."""
        return list(self._running)

    def busy(self) -> int:
        """Slots in use now: lent slots (a task waiting for a child execution) are not."""
        return self._slots.busy

    def cancel(self, command_ids: Sequence[str]) -> None:
        """Stop the commands with these ids where they run (their execution ended).

        The ids are also remembered for a while: a notice can arrive while the claim of its
        command is still on its way back, and the command must then not start.
        """
        for command_id in command_ids:
            task = self._running.get(command_id)
            if task is not None and command_id not in self._cancelling:
                self._cancelling.add(command_id)
                task.cancel()
            self._cancelled[command_id] = None
        while len(self._cancelled) > _REMEMBERED_CANCELS:
            del self._cancelled[next(iter(self._cancelled))]

    async def _fetch_loop(self) -> None:
        """One fetch for all free slots at a time (not one per slot): fewer pulls, no contention."""
        loop = asyncio.get_running_loop()
        while not self._stopping:
            await self._slots.wait_free()
            free = self._slots.free()
            for delivery in await self.bus.fetch(self.pool, batch=free, timeout=1.0):
                slot = self._slots.take()
                handler = loop.create_task(self._handle(delivery, slot))
                self._handlers.add(handler)
                handler.add_done_callback(functools.partial(self._handler_done, slot=slot))

    def _handler_done(self, handler: asyncio.Task[None], slot: Slot) -> None:
        self._handlers.discard(handler)
        slot.free()
        if not handler.cancelled() and handler.exception() is not None:
            log.error("worker failed handling a command: %r", handler.exception())

    async def _handle(self, delivery: Delivery, slot: Slot) -> None:
        beat = _Heartbeat()
        try:
            item = await self.source.claim(delivery.pointer, delivery.attempt)
            handed: list[WorkItem] = []
            if item is not None:
                runner = Runner(self.worker_id, delivery.attempt, item.trace)
                beat.watch(_both(delivery.in_progress, _renewal(self.source, item)), self.heartbeat)
                handed = await self._execute(item, slot, beat, runner)
            await delivery.ack()
            while handed:  # commands handed back with the report: this slot runs them next
                item = handed.pop(0)
                beat.watch(_renewal(self.source, item), (item.lease or self.heartbeat) / 3)
                runner = Runner(self.worker_id, trace=item.trace)
                handed += await self._execute(item, slot, beat, runner)
        finally:
            beat.stop()

    async def _execute(
        self,
        item: WorkItem,
        slot: Slot,
        beat: _Heartbeat,
        runner: Runner,
    ) -> list[WorkItem]:
        """Run one command on `slot` (its lease kept by `beat`, told what to renew) and report
        it; the commands handed back to run next.

        The command runs in this handler's own task, not a task of its own (one costs turns of
        the event loop to start and to collect, on every step): `cancel` cancels this task, and
        only while the command runs."""
        command_id = item.command.command_id
        if command_id in self._cancelled:
            beat.idle()
            return []
        me = asyncio.current_task()
        assert me is not None  # a handler is a task
        self._running[command_id] = me
        try:
            events = await self._run(item, slot, runner)
        except asyncio.CancelledError:
            if command_id not in self._cancelling or me.uncancel() > 0:
                raise  # not (only) this command's cancel: the handler itself is stopped
            return []  # its execution ended; nothing to report
        else:
            if command_id in self._cancelling:  # the run swallowed its cancel: ended all the same
                me.uncancel()
                return []
        finally:
            beat.idle()
            self._running.pop(command_id, None)
            self._cancelling.discard(command_id)
        take = 0 if self._stopping else 1
        return await self.source.report(events, item.token, pool=self.pool, take=take)

    async def _run(self, item: WorkItem, slot: Slot, runner: Runner) -> list[Event]:
        """Run one command; a failure of the machinery itself still ends the step (once)."""
        try:
            with holding(item), occupying(slot):
                return await self._run_with_results(item, runner)
        except NoetlError as exc:
            return [_crashed(item.command, f"{exc}")]
        except Exception as exc:  # a bug must fail the step, not leave it running forever
            return [_crashed(item.command, f"{type(exc).__name__}: {exc}")]

    async def _run_with_results(self, item: WorkItem, runner: Runner) -> list[Event]:
        """Run one command with large results loaded before and stored by reference after."""
        results = self.results
        scope = item.scope
        if results is not None:
            scope = await resolve(item.playbook, item.command.step, scope, results)
        events = await run_command(
            item.playbook, item.command, scope, self.resources, runner=runner
        )
        if results is not None:
            events = await externalize(events, results, self.inline_limit)
        return events


class _Heartbeat:
    """Calls the running command's `keep` every `every` seconds while it runs (a failed call is
    logged: the next one may get through, the lease is not lost yet).

    One per handler, not per command: its timer is made when the first command starts and made
    again only when it fires (then it beats, or waits for the command that runs now), so a
    command that ends before its first beat, as most do, costs no timer made and cancelled."""

    __slots__ = ("_beating", "_due", "_every", "_keep", "_loop", "_timer")

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._keep: Callable[[], Awaitable[None]] | None = None  # the running command's renewal
        self._every = 0.0
        self._due = 0.0  # loop time of its next beat
        self._timer: asyncio.TimerHandle | None = None
        self._beating: asyncio.Task[None] | None = None

    def watch(self, keep: Callable[[], Awaitable[None]], every: float) -> None:
        """A command starts: call `keep` `every` seconds from now, and every `every` after."""
        self._keep = keep
        self._every = every
        self._due = self._loop.time() + every
        if self._timer is not None and self._timer.when() > self._due:
            self._timer.cancel()  # armed for a later beat than this command's first
            self._timer = None
        if self._timer is None:
            self._timer = self._loop.call_at(self._due, self._fire)

    def idle(self) -> None:
        """The command ended: no more beats for it; one under way is cancelled."""
        self._keep = None
        if self._beating is not None:
            self._beating.cancel()
            self._beating = None

    def stop(self) -> None:
        """The handler ends: no more beats at all."""
        self.idle()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _fire(self) -> None:
        self._timer = None
        keep = self._keep
        if keep is None:
            return  # nothing runs: the next command's `watch` arms it again
        if self._loop.time() < self._due:  # armed for an earlier command
            self._timer = self._loop.call_at(self._due, self._fire)
            return
        self._beating = self._loop.create_task(self._renew(keep))

    async def _renew(self, keep: Callable[[], Awaitable[None]]) -> None:
        try:
            await keep()
        except Exception as exc:
            log.warning("could not renew a lease: %s", exc)
        self._beating = None
        if self._keep is keep:  # the same command still runs
            self._due = self._loop.time() + self._every
            self._timer = self._loop.call_at(self._due, self._fire)


def _renewal(source: CommandSource, item: WorkItem) -> Callable[[], Awaitable[None]]:
    held = [(item.command.execution_id, item.command.command_id, item.token)]
    return lambda: source.renew(held)


def _both(
    bus_lease: Callable[[], Awaitable[None]], server_lease: Callable[[], Awaitable[None]]
) -> Callable[[], Awaitable[None]]:
    """Keep a delivered command's two leases: the bus's (no redelivery) and the server's (nobody
    else may claim it meanwhile)."""

    async def keep() -> None:
        try:
            await bus_lease()
        finally:
            await server_lease()

    return keep


def _crashed(command: Command, message: str) -> Event:
    """The one ending of a command whose run broke outside the pipeline's own error handling."""
    error = {"kind": "internal", "message": f"step '{command.step}': {message}", "retryable": False}
    return Event(
        STEP_FAILED,
        command.execution_id,
        command.step,
        command.iteration,
        command.command_id,
        {"error": error, "vars": {}, "set_ctx": {}},
        origin="worker",
        idempotency_key=f"step.end|{command.command_id}",
    )
