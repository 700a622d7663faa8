"""SQLite event store: the embedded mode's durable event log (one file, WAL).

sqlite3 is called synchronously inside the async methods on purpose: a statement here takes tens
of microseconds, while handing it to a thread costs more than that and reorders writes. The
store assumes one writing process per file (the embedded runtime); it caches each running
execution's last seq so an append needs no extra query, and re-reads it when an insert shows
that the cache was stale (another writer), so a second writer cannot corrupt the log.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from noetl.engine.events import Event
from noetl.errors import ConflictError, NotFoundError, StoreError
from noetl.store import projection
from noetl.store.columns import filtered_read, list_query, tally_from_rows, tally_query
from noetl.store.port import (
    ClaimAttempt,
    ExecutionFilter,
    ExecutionSummary,
    IterationTally,
    latest_attempts,
)
from noetl.store.sqlite import rows as codec
from noetl.store.sqlite.connect import open_database
from noetl.store.sqlite.statements import QUERIES
from noetl.store.stamping import check_batch, fresh, stamp, utc_now

_WORKER_ID = "json_extract(payload, '$.worker_id')"  # read by SQLite, not decoded in Python
_SEQ_CACHE_LIMIT = 10_000  # running executions whose last seq is kept in memory


def _last_of(events: Sequence[Event]) -> int:
    """Seq of the last stamped event."""
    return int(events[-1].seq or 0)


class _StaleSeq(Exception):
    """An insert hit an existing (execution_id, seq): someone else appended meanwhile."""


class _DuplicateKey(Exception):
    """An insert hit an existing (execution_id, idempotency_key): a redelivered fact."""


class SqliteEventStore:
    """Event store in one SQLite file. Create it with `SqliteEventStore.open(path)`."""

    def __init__(self, conn: sqlite3.Connection, where: str) -> None:
        self._conn: sqlite3.Connection | None = conn
        self._where = where
        self._last_seqs: dict[str, int] = {}

    @classmethod
    def open(cls, path: str | Path) -> SqliteEventStore:
        """Open (creating parent folders and the file) and migrate the database at `path`."""
        conn = open_database(path, "event store")
        where = str(path)
        return cls(conn, where)

    async def append(
        self, execution_id: str, events: Sequence[Event], *, expected_seq: int | None = None
    ) -> list[Event]:
        """Append to one execution (see `EventStore.append`)."""
        check_batch(execution_id, events)
        written = self._write({execution_id: events}, {execution_id: expected_seq})
        return written[execution_id]

    async def append_batches(
        self,
        batches: Mapping[str, Sequence[Event]],
        *,
        expected: Mapping[str, int] | None = None,
    ) -> dict[str, list[Event]]:
        """Append to several executions in one transaction."""
        for execution_id, events in batches.items():
            check_batch(execution_id, events)
        return self._write(batches, expected or {})

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
        if types is None and step is None and iterations and not newest_first:
            bound = -1 if limit is None else max(limit, 0)
            rows = self._query(QUERIES["read_events"], (execution_id, after_seq, bound))
        else:
            sql, params = filtered_read(
                QUERIES["select_events"],
                execution_id,
                after_seq,
                limit,
                types=types,
                step=step,
                mark="?",
                iterations=iterations,
                newest_first=newest_first,
            )
            rows = self._query(sql, params)
        return [codec.event_from_row(row) for row in rows]

    async def tally_iterations(
        self, execution_id: str, *, after_seq: int, upto_seq: int, types: Collection[str]
    ) -> dict[str, IterationTally]:
        """Loop iterations' events counted per step (see `EventStore.tally_iterations`)."""
        sql, params = tally_query(
            execution_id, after_seq, upto_seq, types, mark="?", worker=_WORKER_ID
        )
        return tally_from_rows(self._query(sql, params))

    async def last_seq(self, execution_id: str) -> int:
        """Highest seq of the execution, 0 when none (read from the file, not the cache)."""
        rows = self._query(QUERIES["last_seq"], (execution_id,))
        return int(rows[0][0])

    async def get_execution(self, execution_id: str) -> ExecutionSummary:
        """The execution's projection."""
        rows = self._query(QUERIES["get_execution"], (execution_id,))
        if not rows:
            raise NotFoundError(f"execution {execution_id!r} not found")
        return codec.summary_from_row(rows[0])

    async def list_executions(
        self,
        *,
        status: str | None = None,
        limit: int = 50,
        offset: int = 0,
        where: ExecutionFilter | None = None,
    ) -> list[ExecutionSummary]:
        """Executions, newest first (see `EventStore.list_executions`)."""
        chosen = ExecutionFilter.of(where, status)
        sql, params = list_query(
            QUERIES["list_executions"], chosen, mark="?", time_mark="?", tiebreak="rowid"
        )
        rows = self._query(sql, [*params, limit, offset])
        return [codec.summary_from_row(row) for row in rows]

    async def claim(self, attempts: Sequence[ClaimAttempt]) -> list[bool]:
        """One winner per attempt (an upsert that only raises the recorded attempt)."""
        conn = self._connection()
        latest = latest_attempts(attempts)
        won: set[tuple[str, str]] = set()
        try:
            conn.execute(QUERIES["begin_write"])  # one transaction for all
            for (execution_id, command_id), attempt in latest.items():
                cursor = conn.execute(QUERIES["claim"], (execution_id, command_id, attempt))
                if cursor.rowcount == 1:
                    won.add((execution_id, command_id))
            conn.commit()
        except sqlite3.Error as exc:
            conn.rollback()
            raise StoreError(f"claiming commands in {self._where} failed: {exc}") from exc
        return [(e, c) in won and latest[(e, c)] == a for e, c, a in attempts]

    async def release_claims(self, execution_id: str, command_id: str | None = None) -> None:
        """Forget the execution's claims (only `command_id`'s when given)."""
        try:
            if command_id is None:
                self._connection().execute(QUERIES["release_claims"], (execution_id,))
            else:
                self._connection().execute(QUERIES["release_claim"], (execution_id, command_id))
        except sqlite3.Error as exc:
            raise StoreError(f"releasing claims in {self._where} failed: {exc}") from exc

    async def forget_claims(self, execution_ids: Sequence[str]) -> None:
        """Delete every claim of these executions (one statement)."""
        try:
            self._connection().execute(QUERIES["prune_claims"], (json.dumps(list(execution_ids)),))
        except sqlite3.Error as exc:
            raise StoreError(f"deleting claims in {self._where} failed: {exc}") from exc

    async def ping(self) -> None:
        """Always answers: the store is this process's own."""

    async def close(self) -> None:
        """Close the connection. Idempotent."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # -- writing -------------------------------------------------------------------------------

    def _write(
        self, batches: Mapping[str, Sequence[Event]], expected: Mapping[str, int | None]
    ) -> dict[str, list[Event]]:
        """Write, first on the fast path, then as the failure says.

        The fast path trusts that keys are new (redelivered duplicates are rare) and inserts
        without asking the file which keys it holds; a duplicate key rolls it back and the
        write is redone with that check. A stale seq cache (another writer) is re-read once,
        unless the caller expected a seq: then it is a conflict.
        """
        optimistic = any(seq is not None for seq in expected.values())
        check_keys = False
        reread = False
        while True:
            try:
                return self._write_once(batches, expected, check_keys=check_keys)
            except _DuplicateKey:
                if check_keys:  # cannot happen under the write lock; refuse to loop
                    raise StoreError(f"duplicate event key in {self._where}") from None
                check_keys = True
            except _StaleSeq:
                self._forget(batches)
                if optimistic or reread:
                    raise ConflictError(
                        f"another writer appended to execution(s) {', '.join(batches)} "
                        f"in {self._where}"
                    ) from None
                reread = True

    def _write_once(
        self,
        batches: Mapping[str, Sequence[Event]],
        expected: Mapping[str, int | None],
        *,
        check_keys: bool,
    ) -> dict[str, list[Event]]:
        conn = self._connection()
        now = utc_now()
        written: dict[str, list[Event]] = {}
        seqs: dict[str, int] = {}
        try:
            conn.execute(QUERIES["begin_write"])
            for execution_id, events in batches.items():
                wanted = expected.get(execution_id)
                last = self._current_seq(conn, execution_id, verify=wanted)
                if wanted is not None and wanted != last:
                    raise ConflictError(
                        f"execution {execution_id!r}: expected last seq {wanted}, found {last}"
                    )
                known = self._known_keys(conn, execution_id, last, events) if check_keys else ()
                new = stamp(fresh(events, known), last, now)
                written[execution_id] = new
                seqs[execution_id] = last + len(new)
            self._insert(conn, written)
            conn.commit()
        except sqlite3.IntegrityError as exc:
            conn.rollback()
            if "idempotency_key" in str(exc):
                raise _DuplicateKey from exc
            raise _StaleSeq from exc
        except sqlite3.Error as exc:
            conn.rollback()
            raise StoreError(f"appending events to {self._where} failed: {exc}") from exc
        except BaseException:
            conn.rollback()
            raise
        self._remember(seqs, written)
        return written

    def _current_seq(
        self, conn: sqlite3.Connection, execution_id: str, *, verify: int | None
    ) -> int:
        """Last seq from the cache, or from the file when not cached or when it disagrees with
        the seq the caller expects (a stale cache must not turn into a false conflict)."""
        cached = self._last_seqs.get(execution_id)
        if cached is not None and (verify is None or verify == cached):
            return cached
        return int(conn.execute(QUERIES["last_seq"], (execution_id,)).fetchone()[0])

    @staticmethod
    def _known_keys(
        conn: sqlite3.Connection, execution_id: str, last: int, events: Sequence[Event]
    ) -> set[str]:
        if last == 0 or not events:
            return set()  # an empty log knows no keys: skip the query
        keys = json.dumps([event.key for event in events])
        return {row[0] for row in conn.execute(QUERIES["known_keys"], (execution_id, keys))}

    def _insert(self, conn: sqlite3.Connection, written: Mapping[str, list[Event]]) -> None:
        rows = [codec.event_row(event) for new in written.values() for event in new]
        if not rows:
            return
        conn.executemany(QUERIES["insert_event"], rows)
        changes = [projection.fold(eid, _last_of(new), new) for eid, new in written.items() if new]
        starts = [codec.start_params(c) for c in changes if c.started is not None]
        if starts:
            conn.executemany(QUERIES["insert_execution"], starts)
        # Most appends (commands issued, tasks done) do not touch the projection: skip them;
        # most others only count steps, which leaves the indexed columns alone.
        counts = [codec.count_params(c) for c in changes if c.touches_summary and not c.terminal]
        if counts:
            conn.executemany(QUERIES["count_steps"], counts)
        ends = [codec.update_params(c) for c in changes if c.terminal is not None]
        if ends:
            conn.executemany(QUERIES["update_execution"], ends)

    def _remember(self, seqs: Mapping[str, int], written: Mapping[str, list[Event]]) -> None:
        if len(self._last_seqs) > _SEQ_CACHE_LIMIT:
            self._last_seqs.clear()
        self._last_seqs.update(seqs)
        for execution_id, new in written.items():
            if any(event.type in codec.TERMINAL for event in new):
                # A finished execution rarely gets more events: stop caching it.
                self._last_seqs.pop(execution_id, None)

    def _forget(self, execution_ids: Iterable[str]) -> None:
        for execution_id in execution_ids:
            self._last_seqs.pop(execution_id, None)

    # -- reading -------------------------------------------------------------------------------

    def _query(self, sql: str, params: Sequence[Any]) -> list[Any]:
        try:
            return self._connection().execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"reading {self._where} failed: {exc}") from exc

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"the SQLite event store {self._where} is closed")
        return self._conn
