"""The control plane: events in, engine decisions, appends to the log, commands out.

All decisions of a process go through one pump task, so the in-memory state of an execution is
only ever touched by one coroutine, and the events of many executions that arrive together are
appended in one transaction and their commands published in one call (batching is what keeps the
per-step overhead low when many executions run at once).

An execution's state is kept in memory while it runs; it is always equal to replaying its log.
`resume` rebuilds it from the log after a crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from noetl import ids
from noetl.bus.port import CommandBus, Pointer
from noetl.dsl.load import load_playbook
from noetl.engine import events as ev
from noetl.engine.commands import Command
from noetl.engine.decide import Decision, cancel_event, decide, start_event
from noetl.engine.definition import PlaybookDef
from noetl.engine.events import Event
from noetl.engine.replay import replay
from noetl.engine.routing import command_scope
from noetl.engine.state import ExecutionState
from noetl.errors import ConflictError, NoetlError, NotFoundError
from noetl.store.port import EventStore, ExecutionSummary

log = logging.getLogger(__name__)
EventListener = Callable[[Event], None]
CONFLICT_RETRIES = 5
EXPIRY_GRACE = 1.0  # seconds past a step timeout before the runtime expires the command


@dataclass(frozen=True, slots=True)
class WorkItem:
    """What a worker needs to run one command."""

    playbook: PlaybookDef
    command: Command
    scope: dict[str, Any]
    digest: str = ""  # sha256 of the playbook source: remote workers cache playbooks by it


@dataclass
class _Live:
    playbook: PlaybookDef
    state: ExecutionState
    done: asyncio.Future[None]
    digest: str = ""
    claimed: dict[str, int] = field(default_factory=dict)  # command id -> delivery attempt
    timers: dict[str, asyncio.TimerHandle] = field(default_factory=dict)


@dataclass
class _Batch:
    """Decisions waiting to be written: events per execution, commands, cancellations."""

    events: dict[str, list[Event]] = field(default_factory=dict)
    expected: dict[str, int] = field(default_factory=dict)  # last seq known per execution
    commands: list[Command] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)

    def add(self, execution_id: str, incoming: Sequence[Event], decision: Decision) -> None:
        self.events.setdefault(execution_id, []).extend([*incoming, *decision.events])
        self.commands.extend(decision.commands)
        self.cancelled.extend(decision.cancelled)
        if decision.state.terminal:
            self.finished.append(execution_id)


class ControlPlane:
    """Routes executions of this process: start, submit worker events, cancel, resume, wait."""

    def __init__(
        self, store: EventStore, bus: CommandBus, *, route: Callable[[str], str] | None = None
    ) -> None:
        self.store = store
        self.bus = bus
        self._route = route or (lambda pool: pool)
        self._live: dict[str, _Live] = {}
        self._inbox: list[tuple[str, Event]] = []
        self._reloads: list[tuple[str, asyncio.Future[None]]] = []
        self._wake = asyncio.Event()
        self._pump: asyncio.Task[None] | None = None
        self._listeners: list[EventListener] = []
        self._progress = asyncio.Condition()
        self._submitted = 0
        self._processed = 0

    # -- lifecycle ------------------------------------------------------------------------------

    def open(self) -> None:
        """Start the pump task (inside a running event loop)."""
        if self._pump is None:
            self._pump = asyncio.get_running_loop().create_task(self._run_pump())

    async def close(self) -> None:
        """Write what is pending and stop the pump."""
        if self._pump is not None:
            await self.flush()
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
            self._pump = None
        for live in self._live.values():
            for timer in live.timers.values():
                timer.cancel()

    def listen(self, listener: EventListener) -> None:
        """Call `listener` with every event once it is in the log."""
        self._listeners.append(listener)

    # -- executions -----------------------------------------------------------------------------

    async def start(
        self,
        playbook: PlaybookDef,
        payload: Mapping[str, Any] | None = None,
        *,
        source: str | None = None,
        parent_execution_id: str | None = None,
    ) -> str:
        """Start an execution of `playbook`; returns its id once its first events are written."""
        execution_id = ids.new_id()
        first = start_event(
            playbook, execution_id, payload, parent_execution_id=parent_execution_id
        )
        if source is not None:
            file = playbook.source_file
            described = {**first.payload["playbook"], "source": source, "file": file}
            first = replace(first, payload={**first.payload, "playbook": described})
        live = _Live(playbook, ExecutionState(), asyncio.get_running_loop().create_future())
        live.digest = _digest(source)
        self._live[execution_id] = live
        await self.submit([first])
        await self.flush()
        failure = live.done.exception() if live.done.done() else None
        if failure is not None:
            raise failure  # its first events could not be written
        return execution_id

    async def submit(self, events: Sequence[Event]) -> None:
        """Hand worker, runtime or client events to the engine (decided by the pump)."""
        self._inbox.extend((e.execution_id, e) for e in events)
        self._submitted += len(events)
        self._wake.set()

    async def cancel(self, execution_id: str, reason: str = "cancelled by request") -> None:
        """Cancel a running execution of this process."""
        if execution_id not in self._live:
            raise NotFoundError(f"execution {execution_id} is not running in this process")
        await self.submit([cancel_event(execution_id, reason)])
        await self.flush()

    async def resume(self, execution_id: str) -> PlaybookDef:
        """Rebuild an execution from its log and re-issue its unfinished commands."""
        live = await self._load(execution_id)
        if live is None:
            raise NotFoundError(f"execution {execution_id} not found")
        if not live.state.terminal:
            # Whoever held its commands is gone; their new deliveries start again at attempt 1.
            await self.store.release_claims(execution_id)
            await self.bus.publish([self._pointer(c) for c in live.state.pending.values()])
        return live.playbook

    async def resume_all(self) -> list[str]:
        """Resume every execution the log says is still running (after a restart)."""
        running = await self.store.list_executions(status="running", limit=100_000)
        for summary in running:
            await self.resume(summary.execution_id)
        return [s.execution_id for s in running]

    async def _load(self, execution_id: str) -> _Live | None:
        """The live execution, rebuilt from the log when this process does not hold it."""
        live = self._live.get(execution_id)
        if live is not None:
            return live
        log = await self.store.read(execution_id)
        if not log:
            return None
        described = log[0].payload.get("playbook", {})
        if described.get("source") is None:
            raise NoetlError(f"execution {execution_id} did not record its playbook source")
        playbook = load_playbook(described["source"], file=described.get("file"))
        state = replay(playbook, log)
        live = _Live(playbook, state, asyncio.get_running_loop().create_future())
        live.digest = _digest(described["source"])
        if state.terminal:
            live.done.set_result(None)
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
        target = self._submitted
        async with self._progress:
            await self._progress.wait_for(lambda: self._processed >= target)

    # -- workers' side --------------------------------------------------------------------------

    async def claim(self, pointer: Pointer, attempt: int = 1) -> WorkItem | None:
        """The command behind `pointer` if it is pending and not running elsewhere; else None.

        A later delivery `attempt` wins over an earlier claim: the bus only redelivers once the
        earlier holder's lease ran out, so that worker is gone or too late.
        """
        live = self._live.get(pointer.execution_id) or await self._load(pointer.execution_id)
        if live is None or live.claimed.get(pointer.command_id, 0) >= attempt:
            return None
        command = live.state.pending.get(pointer.command_id)
        if command is None and self._live.get(pointer.execution_id) is live:
            # Another control plane sharing the log (a replica) may have issued it since this
            # state was built: look again in the state the log gives now.
            await self._reload(pointer.execution_id)
            command = live.state.pending.get(pointer.command_id)
        if command is None:
            return None
        # Recorded in the store, so that control planes sharing it agree on one winner.
        if not await self.store.claim(command.execution_id, command.command_id, attempt):
            return None
        live.claimed[command.command_id] = attempt
        if command.timeout is not None:
            live.timers[command.command_id] = asyncio.get_running_loop().call_later(
                command.timeout + EXPIRY_GRACE, self._expire, command
            )
        scope = command_scope(live.state, command)
        return WorkItem(live.playbook, command, scope, live.digest)

    def _expire(self, command: Command) -> None:
        key = f"command.expired|{command.command_id}"
        event = Event(
            ev.COMMAND_EXPIRED,
            command.execution_id,
            command.step,
            command.iteration,
            command.command_id,
            {"timeout": command.timeout},
            origin="runtime",
            idempotency_key=key,
        )
        self._inbox.append((command.execution_id, event))
        self._submitted += 1
        self._wake.set()

    async def dead_letter(self, pointer: Pointer) -> None:
        """The bus gave up delivering `pointer`: record `command.dead`."""
        event = Event(
            ev.COMMAND_DEAD,
            pointer.execution_id,
            pointer.step,
            command_id=pointer.command_id,
            origin="runtime",
            idempotency_key=f"command.dead|{pointer.command_id}",
        )
        await self.submit([event])

    # -- the pump -------------------------------------------------------------------------------

    async def _reload(self, execution_id: str) -> None:
        """Rebuild an execution's state from the log, done by the pump: it alone changes states
        (a state swapped under a batch being written would lose that batch's decisions)."""
        reloaded: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._reloads.append((execution_id, reloaded))
        self._wake.set()
        await reloaded

    async def _run_pump(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._inbox or self._reloads:
                await self._apply_reloads()
                if not self._inbox:
                    continue
                inbox, self._inbox = self._inbox, []
                try:
                    await self._process(inbox)
                except Exception as exc:  # the pump must outlive any one batch
                    log.exception("control plane could not process %d events", len(inbox))
                    self._abandon(inbox, exc)
                async with self._progress:
                    self._processed += len(inbox)
                    self._progress.notify_all()

    async def _process(self, inbox: list[tuple[str, Event]]) -> None:
        """Decide every event, append all in one transaction, then publish and notify.

        Another control plane (a second server) may have appended to one of these executions
        meanwhile: the append then conflicts, the executions involved are rebuilt from the log
        and the inbox is decided again (events already in the log are duplicates by then).
        """
        for _ in range(CONFLICT_RETRIES):
            batch = await self._decide_all(inbox)
            try:
                written = await self.store.append_batches(batch.events, expected=batch.expected)
            except ConflictError:
                for execution_id in batch.events:
                    await self._refresh(execution_id)
                continue
            await self._after_write(batch, written)
            return
        raise ConflictError(f"gave up appending after {CONFLICT_RETRIES} conflicting writers")

    async def _decide_all(self, inbox: list[tuple[str, Event]]) -> _Batch:
        batch = _Batch()
        for execution_id, event in inbox:
            live = self._live.get(execution_id) or await self._load(execution_id)
            if live is None or live.state.terminal:
                continue  # unknown, or ended: nothing to decide
            batch.expected.setdefault(execution_id, live.state.last_seq)
            decision = decide(live.playbook, live.state, event)
            if event.command_id is not None and event.type in (ev.STEP_DONE, ev.STEP_FAILED):
                self._release(live, event.command_id)
            batch.add(execution_id, [event], decision)
        return batch

    async def _after_write(self, batch: _Batch, written: Mapping[str, list[Event]]) -> None:
        for execution_id, events in written.items():
            live = self._live.get(execution_id)
            if live is not None and events:
                live.state.last_seq = max(live.state.last_seq, events[-1].seq or 0)
        await self.bus.publish([self._pointer(c) for c in batch.commands])
        self._announce(written)
        # Commands whose execution ended: the workers running them, in any process, stop them.
        await self.bus.announce_cancel(batch.cancelled)
        for execution_id in batch.finished:
            self._finish(execution_id)

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

    async def _refresh(self, execution_id: str) -> None:
        """Rebuild a live execution's state from the log (another writer got there first); an
        execution that another control plane ended is finished here too (its waiters answered)."""
        live = self._live.get(execution_id)
        if live is not None:
            live.state = replay(live.playbook, await self.store.read(execution_id))
            if live.state.terminal:
                self._finish(execution_id)

    def _abandon(self, inbox: list[tuple[str, Event]], exc: Exception) -> None:
        """The log could not be written: the executions involved cannot go on in memory."""
        error = exc if isinstance(exc, NoetlError) else NoetlError(f"{type(exc).__name__}: {exc}")
        for execution_id, _ in inbox:
            live = self._live.pop(execution_id, None)
            if live is not None and not live.done.done():
                live.done.set_exception(error)

    def _release(self, live: _Live, command_id: str) -> None:
        live.claimed.pop(command_id, None)
        timer = live.timers.pop(command_id, None)
        if timer is not None:
            timer.cancel()

    def _announce(self, written: Mapping[str, list[Event]]) -> None:
        if not self._listeners:
            return
        for events in written.values():
            for event in events:
                for listener in self._listeners:
                    listener(event)

    def _finish(self, execution_id: str) -> None:
        live = self._live.pop(execution_id, None)
        if live is None:
            return
        for timer in live.timers.values():
            timer.cancel()
        if not live.done.done():
            live.done.set_result(None)
        if live.state.status != "done":
            self._stop_children(execution_id)

    def _stop_children(self, parent_execution_id: str) -> None:
        """A parent that failed or was cancelled takes its running child executions with it."""
        children = [
            execution_id
            for execution_id, live in self._live.items()
            if live.state.parent_execution_id == parent_execution_id and not live.state.terminal
        ]
        for child in children:
            reason = f"parent execution {parent_execution_id} ended"
            self._inbox.append((child, cancel_event(child, reason)))
            self._submitted += 1
        if children:
            self._wake.set()

    def _pointer(self, command: Command) -> Pointer:
        pool = self._route(command.pool)
        return Pointer(command.execution_id, command.command_id, command.step, pool)


def _digest(source: str | None) -> str:
    return hashlib.sha256(source.encode()).hexdigest() if source is not None else ""
