"""What the control plane keeps of a running execution, and what it hands to workers.

`LiveExecution` is an execution's state plus who holds its commands now: the delivery attempt of
each claim, the timer that expires a command past its step timeout, and the lease of a command
handed to a worker with its report (`Offer`). `DecidedBatch` is what one turn of the control
plane's pump writes.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from noetl.dsl.load import load_playbook
from noetl.dsl.locate import CATALOG_PREFIX
from noetl.engine.commands import Command
from noetl.engine.decision import Decision, Routing
from noetl.engine.definition import PlaybookDef
from noetl.engine.events import COMMAND_ISSUED, Event
from noetl.engine.routing import command_scope
from noetl.engine.state import ExecutionState
from noetl.errors import NoetlError
from noetl.runtime.reads import ControlReads
from noetl.store.port import EventLog, EventStore
from noetl.worker.source import WorkItem

EXPIRY_GRACE = 1.0  # seconds past a step timeout before the runtime expires the command
READ_PAGE = 10_000  # events per read when an execution is rebuilt from its log
HANDED_OFF = 0  # the claim attempt of a handed-off command: any bus delivery of it wins over it
CommandTimer = Callable[[Command], None]


# eq=False, repr=False: a holder of live parts, compared by identity and never printed; each
# method @dataclass generates is compiled when `noetl run` starts (benchmarks/README.md).
@dataclass(eq=False, repr=False)
class LiveExecution:
    """A running execution in memory: equal to replaying its log, plus its commands' holders."""

    playbook: PlaybookDef
    state: ExecutionState
    done: asyncio.Future[None]
    digest: str = ""
    touched: float = 0.0  # loop time of the last write or load here (replicas sweep idle ones)
    stale: bool = False  # a write failed after deciding: rebuilt from the log before deciding
    claimed: dict[str, int] = field(default_factory=dict)  # command id -> delivery attempt
    workers: dict[str, str] = field(default_factory=dict)  # command id -> its holder's worker id
    lapses: dict[str, int] = field(default_factory=dict)  # command id -> leases run out
    claiming: set[str] = field(default_factory=set)  # commands whose claim is being written
    issued: dict[str, float] = field(default_factory=dict)  # command id -> epoch s it was issued
    timers: dict[str, asyncio.TimerHandle] = field(default_factory=dict)  # step timeouts
    leases: dict[str, asyncio.TimerHandle] = field(default_factory=dict)  # held commands
    span: Any = None  # the execution's trace span, while this process runs it
    trace: str = ""  # its traceparent, carried by every command handed to a worker

    def hold(
        self,
        command: Command,
        attempt: int,
        expire: CommandTimer,
        token: str,
        lease: float | None = None,
        worker_id: str = "",
    ) -> WorkItem:
        """Mark `command` as running on the worker `worker_id` (`expire` is called past its
        timeout); what that worker needs to run it, with the claim `token` its reports echo
        (and the `lease` a handed-off command is renewed within)."""
        self.release(command.command_id)  # an earlier holder's lease and timer are void
        self.claimed[command.command_id] = attempt
        if worker_id:
            self.workers[command.command_id] = worker_id
        if command.timeout is not None:
            self.timers[command.command_id] = asyncio.get_running_loop().call_later(
                command.timeout + EXPIRY_GRACE, expire, command
            )
        scope = command_scope(self.playbook, self.state, command)
        return WorkItem(
            self.playbook, command, scope, self.digest, lease, token=token, trace=self.trace
        )

    def lease(self, command: Command, seconds: float, lapse: CommandTimer) -> None:
        """(Re)start the lease of a handed-off command: `lapse` is called when it runs out."""
        old = self.leases.pop(command.command_id, None)
        if old is not None:
            old.cancel()
        self.leases[command.command_id] = asyncio.get_running_loop().call_later(
            seconds, lapse, command
        )

    def note_issued(self, events: Sequence[Event]) -> None:
        """Remember when the log says each `command.issued` among `events` happened: the bus
        can have delivered a command only so many times since (see `claims.refusal`)."""
        self.issued.update(issued_times(events))

    def release(self, command_id: str) -> None:
        """Nobody holds the command any more (it ended, or its holder is gone)."""
        self.claimed.pop(command_id, None)
        self.workers.pop(command_id, None)
        for timers in (self.timers, self.leases):
            timer = timers.pop(command_id, None)
            if timer is not None:
                timer.cancel()

    def stop(self) -> None:
        """Cancel every timer (the execution ended, or the control plane closes)."""
        for timer in [*self.timers.values(), *self.leases.values()]:
            timer.cancel()


async def rebuild(
    execution_id: str, store: EventStore, reads: ControlReads, *, local_files: bool = False
) -> LiveExecution | None:
    """An execution as its log gives it (its playbook from the source the log recorded, the
    stored results its templates read loaded by `reads`); None for an empty log. An ended one
    comes with `done` already set. With `local_files`, a NoETL playbook converted on load reads
    its `script` files beside the file the log names, as its first load did."""
    pages = log_pages(store, execution_id)
    first = await anext(pages, None)
    if first is None:
        return None
    described = first[0].payload.get("playbook", {})
    if described.get("source") is None:
        raise NoetlError(f"execution {execution_id} did not record its playbook source")
    file = described.get("file")
    scripts_from = Path(file).parent if local_files and _is_local(file) else None
    playbook = load_playbook(described["source"], file=file, scripts_from=scripts_from)
    issued: dict[str, float] = {}
    state = await reads.replay(playbook, _noting_issued(_prepend(first, pages), issued))
    loop = asyncio.get_running_loop()
    live = LiveExecution(playbook, state, loop.create_future(), digest(described["source"]))
    live.touched = loop.time()
    # Only pending commands can still be claimed: the times of ended ones are not kept.
    live.issued = {command: at for command, at in issued.items() if command in state.pending}
    if state.terminal:
        live.done.set_result(None)
    return live


async def _noting_issued(
    pages: AsyncIterator[list[Event]], issued: dict[str, float]
) -> AsyncIterator[list[Event]]:
    """The pages, unchanged, while `issued` learns when each `command.issued` in them happened."""
    async for page in pages:
        issued.update(issued_times(page))
        yield page


async def _prepend(
    first: list[Event], rest: AsyncIterator[list[Event]]
) -> AsyncIterator[list[Event]]:
    """The pages of a log whose first page was already read."""
    yield first
    async for page in rest:
        yield page


async def log_pages(
    store: EventLog, execution_id: str, *, types: Collection[str] | None = None
) -> AsyncIterator[list[Event]]:
    """An execution's log (only events of `types` when given) in pages of READ_PAGE events: a
    log of a million events is replayed without ever being in memory whole."""
    after = 0
    while True:
        page = await store.read(execution_id, after_seq=after, limit=READ_PAGE, types=types)
        if page:
            yield page
        if len(page) < READ_PAGE:
            return
        after = page[-1].seq or after + len(page)


def issued_times(events: Sequence[Event]) -> dict[str, float]:
    """When (epoch seconds) each `command.issued` among `events` happened, by command id.

    The events of one append share their time: each distinct time is parsed once."""
    parsed: dict[str, float] = {}
    issued: dict[str, float] = {}
    for event in events:
        at = event.created_at
        if event.type == COMMAND_ISSUED and event.command_id and at:
            seconds = parsed.get(at)
            if seconds is None:
                seconds = parsed[at] = datetime.fromisoformat(at).timestamp()
            issued[event.command_id] = seconds
    return issued


def digest(source: str | None) -> str:
    """sha256 of a playbook's source ("" when unknown): workers cache playbooks by it."""
    return hashlib.sha256(source.encode()).hexdigest() if source is not None else ""


@dataclass(eq=False, repr=False)
class Offer:
    """A reporting worker's offer to run up to `take` of the next commands (of `pool`) of the
    executions it reports on; answered with those commands once the report is written."""

    executions: frozenset[str]
    pool: str | None
    take: int
    given: asyncio.Future[list[WorkItem]]
    tokens: Mapping[str, str] | None = None  # a worker's claim token per command; None: ours
    worker_id: str = ""  # who reports (named in the `command.claimed` of handed commands)


@dataclass(eq=False, repr=False)
class DecidedBatch:
    """Decisions waiting to be written: events per execution, commands, cancellations."""

    events: dict[str, list[Event]] = field(default_factory=dict)
    expected: dict[str, int] = field(default_factory=dict)  # last seq known per execution
    commands: list[Command] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)
    offers: list[Offer] = field(default_factory=list)  # answered once the batch is written
    ended: list[tuple[str, str]] = field(default_factory=list)  # (execution, command) ended
    handed: dict[str, tuple[Offer, str]] = field(default_factory=dict)  # command -> taker, token
    routed: list[tuple[str, Routing]] = field(default_factory=list)  # (execution id, routing)

    def add(self, execution_id: str, incoming: Sequence[Event], decision: Decision) -> None:
        """Add one event's decision (most decide nothing: a worker's record of a command)."""
        events = self.events.get(execution_id)
        if events is None:
            events = self.events[execution_id] = []
        events.extend(incoming)
        if decision.events:
            events.extend(decision.events)
        if decision.commands:
            self.commands.extend(decision.commands)
        if decision.cancelled:  # a cancel decides no event of its own: it is the incoming one
            self.cancelled.extend(decision.cancelled)
        if decision.routed:
            self.routed.extend((execution_id, routing) for routing in decision.routed)
        if decision.state.terminal:
            self.finished.append(execution_id)


def _is_local(file: str | None) -> bool:
    """Whether the log names a file of this machine (not a catalog entry, not text)."""
    return bool(file) and not str(file).startswith(CATALOG_PREFIX)
