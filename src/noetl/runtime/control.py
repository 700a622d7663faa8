"""The control plane: events in, engine decisions, appends to the log, commands out.

All decisions of a process go through one pump task (`pump.py`), so the in-memory state of an
execution is only ever touched by one coroutine, and the events of many executions that arrive
together are appended in one transaction and their commands published in one call (batching is
what keeps the per-step overhead low when many executions run at once).

An execution's state is kept in memory while it runs; it is always equal to replaying its log.
`resume` rebuilds it from the log after a crash.

Workers get commands two ways: a pointer on the bus, then a claim; or handed back with the
answer to their `report` of the previous command (the next step of a chain). Either way they
hold them on a lease this control plane keeps (`leases.py`: claims, renewals, lapses).
Executions other processes wrote are taken over or let go by `replicas.py`. What a written batch
leads to (hand-offs, publishing, metrics and listeners told, ended executions finished, their
children stopped) is `followup.py`'s.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from noetl.bus.port import CommandBus, Pointer
from noetl.engine import events as ev
from noetl.engine.commands import Command, dead_event
from noetl.engine.decide import cancel_event, decide
from noetl.engine.definition import PlaybookDef
from noetl.engine.events import Event
from noetl.errors import ConflictError, NoetlError, NotFoundError, NotHeldError
from noetl.observe import tracing
from noetl.observe.hooks import Observer
from noetl.runtime.claims import check_held, plan_hand_off
from noetl.runtime.followup import EventListener, FollowUp
from noetl.runtime.leases import LEASE, Leases
from noetl.runtime.live import DecidedBatch, LiveExecution, Offer, digest, log_pages, rebuild
from noetl.runtime.publisher import Publisher
from noetl.runtime.pump import Pump, Submission
from noetl.runtime.reads import ControlReads
from noetl.runtime.replicas import Replicas
from noetl.runtime.starts import first_event, started_before
from noetl.store.port import EventStore, ExecutionSummary
from noetl.worker.source import WorkItem

log = logging.getLogger(__name__)
CONFLICT_RETRIES = 5


class ControlPlane:
    """Routes executions of this process: start, submit worker events, cancel, resume, wait."""

    def __init__(
        self,
        store: EventStore,
        bus: CommandBus,
        *,
        route: Callable[[str], str] | None = None,
        lease: float = LEASE,
        sweep: float | None = None,
        worker_id: str = "local",
        reads: ControlReads | None = None,
        local_files: bool = False,
    ) -> None:
        self.store = store
        # Only a process that runs its author's own files (embedded) may read a rebuilt NoETL
        # playbook's script files: a server must not read its own files for a request's text.
        self._local_files = local_files
        self.reads = reads or ControlReads(None, 0)  # stored results its templates read
        self.bus = bus
        self._route = route or (lambda pool: pool)
        self._live: dict[str, LiveExecution] = {}
        self.worker_id = worker_id  # names this process's own workers in their claims
        self._pump = Pump(self._process, self._refresh, self._invalidate)
        self._publisher = Publisher(bus)
        self.leases = Leases(  # who holds which command, on what lease
            store,
            self._live,
            self._pump,
            self._publisher,
            load=self._load,
            write=self._write,
            pointer=self._pointer,
            lease=lease,
            worker_id=worker_id,
        )
        self.replicas = Replicas(  # executions other processes wrote: taken over, let go
            store, bus, self._live, self._pump, load=self._load, pointer=self._pointer, sweep=sweep
        )
        self._follow_up = FollowUp(  # what a written batch leads to
            self._live, self._pump, self._publisher, self.leases, pointer=self._pointer
        )

    # -- lifecycle ------------------------------------------------------------------------------

    def open(self) -> None:
        """Start the pump task (inside a running event loop), and the sweeper with `sweep`."""
        self._pump.start()
        self.replicas.open()

    async def close(self) -> None:
        """Write what is pending and stop the pump."""
        await self.replicas.close()
        await self._pump.stop()
        await self.leases.close()
        await self._publisher.close()
        for live in self._live.values():
            live.stop()

    def listen(self, listener: EventListener) -> None:
        """Call `listener` with every event once it is in the log."""
        self._follow_up.listen(listener)

    def observe(self, observer: Observer) -> None:
        """Tell `observer` (metrics) what is written, routed and how long batches take."""
        self._follow_up.observer = observer

    def queue_depth(self) -> dict[str, int]:
        """Commands issued and not yet claimed, per pool (of the executions held here)."""
        depth: dict[str, int] = {}
        for live in self._live.values():
            for command_id, command in live.state.pending.items():
                if command_id not in live.claimed:
                    pool = self._route(command.pool)
                    depth[pool] = depth.get(pool, 0) + 1
        return depth

    def running(self) -> int:
        """How many executions this control plane is running now."""
        return len(self._live)

    # -- executions -----------------------------------------------------------------------------

    async def start(
        self,
        playbook: PlaybookDef,
        payload: Mapping[str, Any] | None = None,
        *,
        source: str | None = None,
        parent_execution_id: str | None = None,
        retry: Mapping[str, Any] | None = None,
        trigger: Mapping[str, Any] | None = None,
        request_key: str | None = None,
        trace: str | None = None,
    ) -> str:
        """Start an execution of `playbook`; returns its id once its first events are written.

        `retry` (`{of, steps}`, see `noetl.runtime.retry`) makes it a retry; `trigger` records
        the schedule slot or hook that started it. With a client's `request_key` (an
        Idempotency-Key) the start happens once: a repeat returns the execution the first one
        started (ConflictError when the key was used for a different request). Its trace span
        goes under `trace` (a traceparent: a child joins its parent's trace).
        """
        first, request = first_event(
            playbook,
            payload,
            source=source,
            request_key=request_key,
            parent_execution_id=parent_execution_id,
            retry=retry,
            trigger=trigger,
        )
        execution_id = first.execution_id
        if request is not None and await started_before(self.store, execution_id, request):
            return execution_id
        if execution_id in self._live:
            return execution_id  # the same key's first request is writing it now
        loop = asyncio.get_running_loop()
        live = LiveExecution(playbook, self.reads.new_state(), loop.create_future())
        live.digest = digest(source)
        live.touched = loop.time()  # not idle: its first write is on its way
        live.span, live.trace = tracing.start_execution(execution_id, playbook.name, trace)
        self._live[execution_id] = live
        try:
            await self._write([first])
        except NoetlError as exc:
            self._live.pop(execution_id, None)  # nothing of it is in the log: no execution
            tracing.end(live.span, "failed", {"message": str(exc)})
            raise
        # Its first events are in the log: it runs, whatever publishing its commands takes.
        return execution_id

    async def submit(self, events: Sequence[Event]) -> None:
        """Hand worker, runtime or client events to the engine (decided by the pump)."""
        self._pump.put(events)

    async def cancel(self, execution_id: str, reason: str = "cancelled by request") -> None:
        """Cancel a running execution of this process."""
        if execution_id not in self._live:
            raise NotFoundError(f"execution {execution_id} is not running in this process")
        await self.submit([cancel_event(execution_id, reason)])
        await self.flush()

    async def resume(self, execution_id: str) -> PlaybookDef:
        """Rebuild an execution from its log and re-issue its unfinished commands (see
        `Replicas.resume`)."""
        return await self.replicas.resume(execution_id)

    async def resume_all(self) -> list[str]:
        """Resume every execution the log says is still running (after a restart)."""
        return await self.replicas.resume_all()

    async def _load(self, execution_id: str) -> LiveExecution | None:
        """The live execution, rebuilt from the log when this process does not hold it."""
        live = self._live.get(execution_id)
        if live is not None:
            return live
        live = await rebuild(execution_id, self.store, self.reads, local_files=self._local_files)
        if live is None or live.state.terminal:
            return live
        # Whoever loaded it first (the pump, say, while this read was out) keeps its state.
        return self._live.setdefault(execution_id, live)

    def holds(self, execution_id: str) -> bool:
        """Whether this control plane is running the execution now."""
        return execution_id in self._live

    async def wait(self, execution_id: str) -> ExecutionSummary:
        """Wait until the execution ends; its summary from the store."""
        live = self._live.get(execution_id)
        if live is not None:
            await asyncio.shield(live.done)
        return await self.store.get_execution(execution_id)

    async def flush(self) -> None:
        """Wait until everything submitted so far is decided, written and published."""
        await self._pump.flush()
        await self._publisher.drain()

    # -- workers' side --------------------------------------------------------------------------

    async def report(
        self, events: Sequence[Event], token: str, *, pool: str | None = None, take: int = 0
    ) -> list[WorkItem]:
        """An in-process worker's events on the command it holds with claim `token`; see
        `report_held`."""
        tokens = {e.command_id: token for e in events if e.command_id is not None}
        return await self.report_held(
            events, tokens, worker_id=self.worker_id, pool=pool, take=take
        )

    async def report_held(
        self,
        events: Sequence[Event],
        tokens: Mapping[str, str],
        *,
        worker_id: str,
        pool: str | None = None,
        take: int = 0,
    ) -> list[WorkItem]:
        """A worker's events, decided and written when this returns; with `take`, up to that
        many of the commands they lead to in `pool` are handed back to the reporter.

        Every event must be about a pending command the reporter holds: `tokens` gives the
        claim token it echoes per command id. Anything else raises `NotHeldError` and nothing
        of the report is written. A report that could not be written raises
        `StoreUnavailableError` (the worker sends it again).

        A handed-off command is claimed for the reporter and not published: the worker runs it
        next without a bus delivery or a claim (one round trip per step of a chain). The worker
        holds it on a lease, renewed by `Leases.renew`; a lease that runs out puts the command
        on the bus, as a delivery whose lease ran out would be.
        """
        if not events:
            return []
        return await self._write(events, tokens, worker_id=worker_id, pool=pool, take=take)

    async def _write(
        self,
        events: Sequence[Event],
        tokens: Mapping[str, str] | None = None,
        *,
        worker_id: str = "",
        pool: str | None = None,
        take: int = 0,
    ) -> list[WorkItem]:
        """Decide and write `events` through the pump; the commands handed back (with `take`).
        Raises what kept them out of the log (an error of this call's own)."""
        executions = frozenset(e.execution_id for e in events)
        given: asyncio.Future[list[WorkItem]] = asyncio.get_running_loop().create_future()
        offer = Offer(executions, pool, take, given, tokens, worker_id)
        self._pump.put(events, offer)
        return await given

    async def claim(
        self, pointer: Pointer, attempt: int = 1, worker_id: str | None = None
    ) -> WorkItem | None:
        """The command behind `pointer` if it is pending and not running elsewhere; else None
        (see `Leases.claim_many`)."""
        return (await self.leases.claim_many([(pointer, attempt)], worker_id))[0]

    async def renew(self, held: Sequence[tuple[str, str, str]]) -> None:
        """Extend the leases of held commands (see `Leases.renew`)."""
        await self.leases.renew(held)

    async def dead_letter(self, pointer: Pointer) -> None:
        """The bus gave up delivering `pointer`: record `command.dead`."""
        await self.submit([dead_event(pointer.execution_id, pointer.step, pointer.command_id)])

    # -- what the pump runs ----------------------------------------------------------------------

    async def _process(self, submissions: list[Submission]) -> None:
        """Decide every event, append all in one transaction, then hand off, publish, notify.

        Another control plane (a second server) may have appended to one of these executions
        meanwhile: the append then conflicts, the executions involved are rebuilt from the log
        and the inbox is decided again (events already in the log are duplicates by then).
        """
        for _ in range(CONFLICT_RETRIES):
            batch = await self._decide_all(submissions)
            plan_hand_off(batch, self._live, self._route)
            decided = time.perf_counter()
            try:
                written = await self.store.append_batches(batch.events, expected=batch.expected)
            except ConflictError:
                for execution_id in batch.events:
                    await self._refresh(execution_id)
                continue
            stored = time.perf_counter()
            self._follow_up.written(batch, written)
            received = min(one.received for one in submissions)
            self._follow_up.observer.processed(received, decided, stored, time.perf_counter())
            return
        raise ConflictError(f"gave up appending after {CONFLICT_RETRIES} conflicting writers")

    async def _decide_all(self, submissions: list[Submission]) -> DecidedBatch:
        batch = DecidedBatch()
        for one in submissions:
            offer = one.offer
            if offer is not None and offer.given.done():
                continue  # refused in an earlier try of this batch
            lives = {e: await self._current(e) for e in {e.execution_id for e in one.events}}
            if offer is not None and offer.tokens is not None:
                try:
                    check_held(one.events, lives, offer.tokens)
                except NotHeldError as exc:
                    offer.given.set_exception(exc)
                    continue
            if offer is not None:
                batch.offers.append(offer)
            for event in one.events:
                live = lives[event.execution_id]
                if live is None or live.state.terminal:
                    continue  # unknown, or ended: nothing to decide
                batch.expected.setdefault(event.execution_id, live.state.last_seq)
                await self.reads.before(live.playbook, live.state, event)
                decision = decide(live.playbook, live.state, event)
                if event.command_id is not None and event.type in (ev.STEP_DONE, ev.STEP_FAILED):
                    batch.ended.append((event.execution_id, event.command_id))
                batch.add(event.execution_id, [event], decision)
        return batch

    async def _current(self, execution_id: str) -> LiveExecution | None:
        """The live execution, loaded when this process does not hold it, and rebuilt from the
        log when a failed write left its state ahead of the log."""
        live = self._live.get(execution_id) or await self._load(execution_id)
        if live is not None and live.stale:
            live.state = await self.reads.replay(live.playbook, log_pages(self.store, execution_id))
            live.stale = False
            if live.state.terminal:
                self._follow_up.finish(execution_id)
        return live

    def _invalidate(self, submissions: Sequence[Submission]) -> None:
        """A batch could not be written, but was decided: the executions it touched are ahead
        of their log in memory, and are rebuilt from it before their next decision. Their
        leases and timers stay: the commands they guard are still out there."""
        for one in submissions:
            for event in one.events:
                live = self._live.get(event.execution_id)
                if live is not None:
                    live.stale = True

    async def _refresh(self, execution_id: str) -> None:
        """Rebuild a live execution's state from the log (another writer got there first); an
        execution that another control plane ended is finished here too (its waiters answered)."""
        live = self._live.get(execution_id)
        if live is not None:
            live.state = await self.reads.replay(live.playbook, log_pages(self.store, execution_id))
            if live.state.terminal:
                self._follow_up.finish(execution_id)

    def _pointer(self, command: Command) -> Pointer:
        pool = self._route(command.pool)
        return Pointer(command.execution_id, command.command_id, command.step, pool)
