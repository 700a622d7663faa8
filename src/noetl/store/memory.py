"""In-memory event store: the reference adapter for tests and throwaway runs.

It keeps the same contract as the durable adapters. Events are copied through their JSON codec
on the way in, so a test sees exactly what a SQLite or PostgreSQL store would give back (tuples
become lists, the caller mutating a payload later changes nothing stored).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from noetl.engine.events import Event
from noetl.errors import ConflictError, NotFoundError, StoreError
from noetl.store import projection
from noetl.store.columns import tally_from_rows
from noetl.store.port import (
    STEP_ENDINGS,
    ClaimAttempt,
    ExecutionFilter,
    ExecutionSummary,
    IterationTally,
    latest_attempts,
)
from noetl.store.stamping import check_batch, fresh, stamp, utc_now


@dataclass
class _Prepared:
    """One execution's part of an append, computed before anything is changed."""

    execution_id: str
    returned: list[Event]
    stored: list[Event]
    change: projection.ExecutionChange


class MemoryEventStore:
    """Event store held in dicts; single event loop, no persistence."""

    def __init__(self) -> None:
        self._logs: dict[str, list[Event]] = {}
        self._keys: dict[str, set[str]] = {}
        # Insertion order is start order, which `list_executions` reverses for newest first.
        self._executions: dict[str, ExecutionSummary] = {}
        self._claims: dict[tuple[str, str], int] = {}
        self._closed = False

    async def append(
        self, execution_id: str, events: Sequence[Event], *, expected_seq: int | None = None
    ) -> list[Event]:
        """Append to one execution (see `EventStore.append`)."""
        self._check_open()
        prepared = self._prepare(execution_id, events, expected_seq, utc_now())
        self._commit([prepared])
        return prepared.returned

    async def append_batches(
        self,
        batches: Mapping[str, Sequence[Event]],
        *,
        expected: Mapping[str, int] | None = None,
    ) -> dict[str, list[Event]]:
        """Append to several executions at once, all or nothing."""
        self._check_open()
        now = utc_now()
        seqs = expected or {}
        prepared = [
            self._prepare(eid, events, seqs.get(eid), now) for eid, events in batches.items()
        ]
        self._commit(prepared)
        return {p.execution_id: p.returned for p in prepared}

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
        """Events with `seq > after_seq`, in order, at most `limit`; only `types` / `step`,
        no iteration's without `iterations`; the last ones first with `newest_first`."""
        self._check_open()
        log = self._logs.get(execution_id, [])
        # seq is gap-free from 1, so the event with seq n sits at index n - 1.
        start = max(after_seq, 0)
        if types is None and step is None and iterations and not newest_first:
            end = None if limit is None else start + max(limit, 0)
            return log[start:end]
        chosen = [
            e
            for e in (reversed(log[start:]) if newest_first else log[start:])
            if (types is None or e.type in types)
            and (step is None or e.step == step)
            and (iterations or e.iteration is None)
        ]
        return chosen if limit is None else chosen[: max(limit, 0)]

    async def tally_iterations(
        self, execution_id: str, *, after_seq: int, upto_seq: int, types: Collection[str]
    ) -> dict[str, IterationTally]:
        """Loop iterations' events counted per step (see `EventStore.tally_iterations`)."""
        self._check_open()
        window = [
            e
            for e in self._logs.get(execution_id, [])[max(after_seq, 0) : max(upto_seq, 0)]
            if e.iteration is not None and e.type in types
        ]
        rows = []
        for e in window:  # one row per event: tally_from_rows sums them as it sums groups
            worker = e.payload.get("worker_id") if e.type in STEP_ENDINGS else None
            rows.append((e.step, e.type, worker, 1, e.seq, e.seq))
        return tally_from_rows(rows)

    async def last_seq(self, execution_id: str) -> int:
        """Highest seq of the execution, 0 when none."""
        self._check_open()
        return len(self._logs.get(execution_id, ()))

    async def get_execution(self, execution_id: str) -> ExecutionSummary:
        """The execution's projection."""
        self._check_open()
        try:
            return self._executions[execution_id]
        except KeyError:
            raise NotFoundError(f"execution {execution_id!r} not found") from None

    async def list_executions(
        self,
        *,
        status: str | None = None,
        limit: int = 50,
        offset: int = 0,
        where: ExecutionFilter | None = None,
    ) -> list[ExecutionSummary]:
        """Executions, newest first (see `EventStore.list_executions`)."""
        self._check_open()
        chosen = ExecutionFilter.of(where, status)
        newest_first = list(reversed(self._executions.values()))
        if chosen.before is not None:
            ids = [s.execution_id for s in newest_first]
            start = ids.index(chosen.before) + 1 if chosen.before in ids else len(ids)
            newest_first = newest_first[start:]
        shown = [s for s in newest_first if _selects(chosen, s)]
        return shown[offset : offset + limit]

    async def claim(self, attempts: Sequence[ClaimAttempt]) -> list[bool]:
        """One winner per attempt; later attempts win over earlier ones."""
        self._check_open()
        won = {
            key: attempt
            for key, attempt in latest_attempts(attempts).items()
            if self._claims.get(key, 0) < attempt
        }
        self._claims.update(won)
        return [won.get((e, c)) == attempt for e, c, attempt in attempts]

    async def release_claims(self, execution_id: str, command_id: str | None = None) -> None:
        """Forget the execution's claims (only `command_id`'s when given)."""
        self._check_open()
        for key in [k for k in self._claims if k[0] == execution_id]:
            if command_id is not None and key[1] != command_id:
                continue
            del self._claims[key]

    async def forget_claims(self, execution_ids: Sequence[str]) -> None:
        """Delete every claim of these executions."""
        self._check_open()
        ended = set(execution_ids)
        for key in [k for k in self._claims if k[0] in ended]:
            del self._claims[key]

    async def ping(self) -> None:
        """Always answers: the store is this process's own."""

    async def close(self) -> None:
        """Mark the store closed; its contents are dropped."""
        self._closed = True

    def _prepare(
        self, execution_id: str, events: Sequence[Event], expected_seq: int | None, now: str
    ) -> _Prepared:
        check_batch(execution_id, events)
        last = len(self._logs.get(execution_id, ()))
        if expected_seq is not None and expected_seq != last:
            raise ConflictError(
                f"execution {execution_id!r}: expected last seq {expected_seq}, found {last}"
            )
        new = fresh(events, self._keys.get(execution_id, ()))
        returned = stamp(new, last, now)
        try:
            stored = [Event.from_json(event.to_json()) for event in returned]
        except (TypeError, ValueError) as exc:
            raise StoreError(
                f"an event of execution {execution_id!r} cannot be written as JSON: {exc}"
            ) from exc
        change = projection.fold(execution_id, last + len(stored), stored)
        return _Prepared(execution_id, returned, stored, change)

    def _commit(self, prepared: Sequence[_Prepared]) -> None:
        for part in prepared:
            if not part.stored:
                continue
            eid = part.execution_id
            self._logs.setdefault(eid, []).extend(part.stored)
            self._keys.setdefault(eid, set()).update(e.key for e in part.stored)
            summary = projection.apply(self._executions.get(eid), part.change)
            if summary is not None:
                self._executions[eid] = summary

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError("the in-memory event store is closed")


def _selects(where: ExecutionFilter, summary: ExecutionSummary) -> bool:
    """Whether `summary` passes every condition of `where` but the page key."""
    return (
        (where.status is None or summary.status == where.status)
        and (where.playbook is None or summary.playbook_path == where.playbook)
        and (where.parent is None or summary.parent_execution_id == where.parent)
        and (where.since is None or summary.started_at >= where.since)
        and (where.until is None or summary.started_at < where.until)
        and (where.id_prefix is None or summary.execution_id.startswith(where.id_prefix))
    )
