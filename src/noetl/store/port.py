"""The event store port: an append-only, per-execution event log plus the execution projection.

Every adapter (memory, SQLite, PostgreSQL) passes the same contract suite in
`tests/contract/test_event_store.py`. The rules an adapter keeps:

- `append` stamps events with a gap-free `seq` per execution (continuing from the last one), an
  `event_id` and, unless the event already says when it happened, a UTC `created_at`; it returns
  only the events it actually wrote.
- Events whose idempotency key (`Event.key`) is already in the execution's log, or repeats
  inside the batch, are dropped silently: redelivered work cannot write a fact twice.
- `expected_seq` makes the append optimistic: when the execution's last seq differs, nothing is
  written and `ConflictError` is raised.
- Each call is all or nothing, and the execution projection (`ExecutionSummary`) is updated in
  the same transaction as the events it is derived from (see `noetl.store.projection`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any, Protocol

from noetl.engine import events as ev
from noetl.engine.events import Event

RUNNING = "running"
DONE = "done"
FAILED = "failed"
CANCELLED = "cancelled"
EXECUTION_STATUSES = frozenset({RUNNING, DONE, FAILED, CANCELLED})
ClaimAttempt = tuple[str, str, int]  # execution id, command id, delivery attempt


@dataclass(frozen=True)
class ExecutionFilter:
    """Which executions a list shows (every field optional; all given ones must hold).

    `since`/`until` bound `started_at` (UTC ISO-8601, `since` inclusive, `until` exclusive).
    `before` pages by key: only executions listed after that one (newest first), so a page
    costs the same at the 100,000th execution as at the first (no OFFSET scan).
    """

    status: str | None = None
    playbook: str | None = None  # the playbook's catalog path
    parent: str | None = None  # children of this execution
    since: str | None = None
    until: str | None = None
    before: str | None = None  # an execution id
    id_prefix: str | None = None  # executions whose id starts with it (a search by id)

    @staticmethod
    def of(where: ExecutionFilter | None, status: str | None) -> ExecutionFilter:
        """`where` with `status` (the older keyword of `list_executions`) folded in."""
        chosen = where or ExecutionFilter()
        return chosen if status is None else replace(chosen, status=status)


@dataclass(frozen=True)
class ExecutionSummary:
    """What a person or a client wants to know about one execution without replaying it."""

    execution_id: str
    playbook_name: str
    playbook_path: str
    status: str  # running | done | failed | cancelled
    started_at: str
    finished_at: str | None
    steps_done: int
    steps_failed: int
    steps_skipped: int
    result: Any
    error: Any
    parent_execution_id: str | None
    last_seq: int
    playbook_version: int | None = None  # the catalog version it ran (None: not from a catalog)

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form (JSON-friendly when `result` and `error` are)."""
        return asdict(self)


MAX_TALLIED_WORKERS = 20  # workers an `IterationTally` names, the first ones
STEP_ENDINGS = frozenset({ev.STEP_DONE, ev.STEP_FAILED, ev.STEP_SKIPPED})  # name the workers


@dataclass(frozen=True)
class IterationTally:
    """What a stretch of one step's loop iterations says in sum (a 10,000-iteration loop
    folds into counts, not 10,000 decoded events): how many events of each type, the seq of
    the last one of each type, and the workers the iterations' step endings name
    (`payload.worker_id`), distinct, in the order they first ended, at most
    `MAX_TALLIED_WORKERS`."""

    counts: dict[str, int]
    last_seq: dict[str, int]
    workers: tuple[str, ...]


def latest_attempts(attempts: Sequence[ClaimAttempt]) -> dict[tuple[str, str], int]:
    """The attempt of each command that may win a claim: its latest in `attempts`."""
    latest: dict[tuple[str, str], int] = {}
    for execution_id, command_id, attempt in attempts:
        key = (execution_id, command_id)
        latest[key] = max(attempt, latest.get(key, attempt))
    return latest


class EventLog(Protocol):
    """The read side of an event log: what a reader of one execution's events needs (an
    `EventStore`, or a server's log read over REST: `noetl.client.event_log`)."""

    async def read(
        self,
        execution_id: str,
        *,
        after_seq: int = 0,
        limit: int | None = None,
        types: Collection[str] | None = None,
        step: str | None = None,
        iterations: bool = True,
        newest_first: bool = False,
    ) -> list[Event]:
        """Events of one execution with `seq > after_seq`, in seq order, at most `limit`;
        with `types` only events of those types, with `step` only that step's, with
        `iterations=False` none of a loop iteration's. `newest_first` reverses the order:
        the last `limit` of them, newest first (a step's latest ending in one row)."""
        ...


class EventStore(EventLog, Protocol):
    """Append-only event log of executions, with the execution projection kept beside it."""

    async def append(
        self, execution_id: str, events: Sequence[Event], *, expected_seq: int | None = None
    ) -> list[Event]:
        """Append `events` to one execution; return the stamped events actually written."""
        ...

    async def append_batches(
        self,
        batches: Mapping[str, Sequence[Event]],
        *,
        expected: Mapping[str, int] | None = None,
    ) -> dict[str, list[Event]]:
        """Append to several executions in one transaction; written events per execution.

        `expected` maps execution ids to the last seq the caller knows: any mismatch raises
        `ConflictError` and nothing is written (how two control planes share executions).
        """
        ...

    async def tally_iterations(
        self, execution_id: str, *, after_seq: int, upto_seq: int, types: Collection[str]
    ) -> dict[str, IterationTally]:
        """Per step, the loop iterations' events of `types` with `after_seq < seq <=
        upto_seq`, counted without decoding them (see `IterationTally`)."""
        ...

    async def last_seq(self, execution_id: str) -> int:
        """The execution's highest seq, 0 when it has no events."""
        ...

    async def get_execution(self, execution_id: str) -> ExecutionSummary:
        """The execution's projection; `NotFoundError` when it was never started."""
        ...

    async def list_executions(
        self,
        *,
        status: str | None = None,
        limit: int = 50,
        offset: int = 0,
        where: ExecutionFilter | None = None,
    ) -> list[ExecutionSummary]:
        """Executions, newest started first, optionally only those with `status` and those
        `where` selects (an unknown `before` id selects nothing)."""
        ...

    async def claim(self, attempts: Sequence[ClaimAttempt]) -> list[bool]:
        """Record that these deliveries (execution id, command id, attempt) are being run, all
        in one write; per attempt whether this caller won it.

        True for exactly one caller per attempt, and only when no equal or later attempt was
        claimed before (a redelivery after a lease ran out wins over the earlier holder). This
        is what makes claims atomic across control planes sharing the store. When one command
        comes several times, only its latest attempt can win.
        """
        ...

    async def release_claims(self, execution_id: str, command_id: str | None = None) -> None:
        """Forget the execution's claims (only `command_id`'s when given): whoever held them is
        gone (the execution resumes, or a lease ran out)."""
        ...

    async def forget_claims(self, execution_ids: Sequence[str]) -> None:
        """Delete every claim of these executions (they ended: their claims decide nothing)."""
        ...

    async def ping(self) -> None:
        """Return once the store answers a trivial read (the server's readiness check asks,
        under a short timeout); `StoreError` saying why when it cannot. A store in this
        process's own memory or file always answers."""
        ...

    async def close(self) -> None:
        """Release the store's resources. Idempotent."""
        ...
