"""PostgreSQL event store: the distributed mode's event log, shared by every server replica.

Several stores (server replicas) may append to the same execution at once. Nothing locks an
execution: the primary key `(execution_id, seq)` serialises them. A writer stamps its events
after the last seq it knows; when another writer took that seq first, the insert fails, the
transaction rolls back, and the writer re-reads the last seq and tries again (or raises
`ConflictError` when the caller asked for an `expected_seq`).

Each store caches the last seq of the executions it writes, so the common append is one round
trip: one statement (`queries/append.sql`) inserts the events and updates the execution
projection, atomic without an explicit transaction. Idempotency keys
are trusted to be new on that fast path; a duplicate key rolls it back and the write is redone
after asking which keys the log already holds, so dropped duplicates never leave seq gaps.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg_pool import AsyncConnectionPool

from noetl.engine.events import TERMINAL_PLAYBOOK, Event
from noetl.errors import ConflictError, NotFoundError, StoreError
from noetl.store.columns import filtered_read, list_query, tally_from_rows, tally_query
from noetl.store.port import (
    ClaimAttempt,
    ExecutionFilter,
    ExecutionSummary,
    IterationTally,
    latest_attempts,
)
from noetl.store.postgres import rows as codec
from noetl.store.postgres.connection import connect, describe, failure, open_pool
from noetl.store.postgres.schema import apply_migrations
from noetl.store.postgres.statements import QUERIES
from noetl.store.stamping import check_batch, fresh, stamp, utc_now

_SEQ_CACHE_LIMIT = 10_000  # running executions whose last seq is kept in memory
_MAX_ATTEMPTS = 30  # writes lost to other writers before giving up with ConflictError
_BACKOFF_BASE = 0.0005  # seconds; doubled per lost attempt, up to _BACKOFF_CAP
_BACKOFF_CAP = 0.05
_SEQ_CONSTRAINT = "events_seq_unique"  # names from migrations/0001_events.sql
_KEY_CONSTRAINT = "events_key_unique"

Connection = psycopg.AsyncConnection[Any]


class _StaleSeq(Exception):
    """Another writer appended meanwhile (a seq was taken, or the writers deadlocked)."""


class _DuplicateKey(Exception):
    """An insert hit an existing (execution_id, idempotency_key): a redelivered fact."""


class PostgresEventStore:
    """Event store in a PostgreSQL database. Create it with `await PostgresEventStore.open(dsn)`."""

    def __init__(self, pool: AsyncConnectionPool, where: str, dsn: str) -> None:
        self._pool = pool
        self._where = where
        self._dsn = dsn  # kept only to scrub its password out of driver messages
        self._last_seqs: dict[str, int] = {}
        self._closed = False

    @classmethod
    async def open(cls, dsn: str, *, min_size: int = 1, max_size: int = 10) -> PostgresEventStore:
        """Migrate the database at `dsn` and open a pool of `min_size..max_size` connections."""
        where = describe(dsn)
        conn = await connect(dsn, where)
        try:
            await apply_migrations(conn, where)
        except psycopg.Error as exc:
            raise failure("migrating", where, exc, dsn) from None
        finally:
            await conn.close()
        pool = await open_pool(dsn, where, min_size, max_size, name="noetl-event-store")
        return cls(pool, where, dsn)

    async def append(
        self, execution_id: str, events: Sequence[Event], *, expected_seq: int | None = None
    ) -> list[Event]:
        """Append to one execution (see `EventStore.append`)."""
        check_batch(execution_id, events)
        written = await self._write({execution_id: events}, {execution_id: expected_seq})
        return written[execution_id]

    async def append_batches(
        self,
        batches: Mapping[str, Sequence[Event]],
        *,
        expected: Mapping[str, int] | None = None,
    ) -> dict[str, list[Event]]:
        """Append to several executions in one transaction (see `EventStore.append_batches`)."""
        for execution_id, events in batches.items():
            check_batch(execution_id, events)
        return await self._write(batches, expected or {})

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
            bound = None if limit is None else max(limit, 0)
            rows = await self._query(QUERIES["read_events"], (execution_id, after_seq, bound))
        else:
            sql, params = filtered_read(
                QUERIES["select_events"],
                execution_id,
                after_seq,
                limit,
                types=types,
                step=step,
                mark="%s",
                iterations=iterations,
                newest_first=newest_first,
            )
            rows = await self._query(sql, params)
        return [codec.event_from_row(row) for row in rows]

    async def tally_iterations(
        self, execution_id: str, *, after_seq: int, upto_seq: int, types: Collection[str]
    ) -> dict[str, IterationTally]:
        """Loop iterations' events counted per step (see `EventStore.tally_iterations`)."""
        sql, params = tally_query(
            execution_id, after_seq, upto_seq, types, mark="%s", worker="payload->>'worker_id'"
        )
        return tally_from_rows(await self._query(sql, params))

    async def last_seq(self, execution_id: str) -> int:
        """Highest seq of the execution, 0 when none (read from the database, not the cache)."""
        rows = await self._query(QUERIES["last_seq"], (execution_id,))
        return int(rows[0][0])

    async def get_execution(self, execution_id: str) -> ExecutionSummary:
        """The execution's projection."""
        rows = await self._query(QUERIES["get_execution"], (execution_id,))
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
            QUERIES["list_executions"],
            chosen,
            mark="%s",
            time_mark="%s::timestamptz",
            tiebreak="position",
        )
        rows = await self._query(sql, [*params, limit, offset])
        return [codec.summary_from_row(row) for row in rows]

    async def ping(self) -> None:
        """`SELECT 1` on a pooled connection (fails within about a second while the database
        cannot be reached, saying why)."""
        await self._query("SELECT 1", ())

    async def close(self) -> None:
        """Close the pool. Idempotent."""
        if not self._closed:
            self._closed = True
            await self._pool.close()

    # -- writing -------------------------------------------------------------------------------

    async def _write(
        self,
        batches: Mapping[str, Sequence[Event]],
        expected: Mapping[str, int | None],
    ) -> dict[str, list[Event]]:
        """Write on the fast path, then as each failure says (see the module docstring)."""
        optimistic = any(seq is not None for seq in expected.values())
        check_keys = False
        for attempt in range(_MAX_ATTEMPTS):
            try:
                return await self._write_once(batches, expected, check_keys=check_keys)
            except _DuplicateKey:
                check_keys = True  # and again if another writer added the key meanwhile
            except _StaleSeq:
                self._forget(batches)
                if optimistic:
                    raise ConflictError(
                        f"another writer appended to execution(s) {', '.join(batches)} "
                        f"in {self._where}"
                    ) from None
                # The first retry is at once (usually our cache was just stale). After that
                # another writer keeps winning (its next insert is in flight whenever we read
                # the last seq): back off a random, growing while so it finishes its burst.
                if attempt:
                    ceiling = min(_BACKOFF_CAP, _BACKOFF_BASE * 2**attempt)
                    await asyncio.sleep(random.uniform(0, ceiling))
        raise ConflictError(
            f"appending to execution(s) {', '.join(batches)} in {self._where} lost to other "
            f"writers {_MAX_ATTEMPTS} times in a row"
        )

    async def _write_once(
        self,
        batches: Mapping[str, Sequence[Event]],
        expected: Mapping[str, int | None],
        *,
        check_keys: bool,
    ) -> dict[str, list[Event]]:
        now = utc_now()
        written: dict[str, list[Event]] = {}
        try:
            async with self._connection() as conn:
                lasts = await self._current_seqs(conn, batches, expected)
                for execution_id, events in batches.items():
                    last = lasts[execution_id]
                    wanted = expected.get(execution_id)
                    if wanted is not None and wanted != last:
                        raise ConflictError(
                            f"execution {execution_id!r}: expected last seq {wanted}, found {last}"
                        )
                    known = await self._known_keys(conn, execution_id, last, events, check_keys)
                    written[execution_id] = stamp(fresh(events, known), last, now)
                await self._insert(conn, written)
        except pg_errors.UniqueViolation as exc:
            if exc.diag.constraint_name == _KEY_CONSTRAINT:
                raise _DuplicateKey from None
            if exc.diag.constraint_name == _SEQ_CONSTRAINT:
                raise _StaleSeq from None
            raise failure("appending events", self._where, exc, self._dsn) from None
        except (pg_errors.DeadlockDetected, pg_errors.SerializationFailure):
            raise _StaleSeq from None  # two batches met in opposite orders: retry
        except psycopg.Error as exc:
            self._forget(batches)  # the commit's outcome may be unknown
            raise failure("appending events", self._where, exc, self._dsn) from None
        self._remember(written)
        return written

    async def _current_seqs(
        self,
        conn: Connection,
        batches: Mapping[str, Sequence[Event]],
        expected: Mapping[str, int | None],
    ) -> dict[str, int]:
        """Last seq per execution: from the cache, else (one query for all) from the database.

        A cached seq that disagrees with the one the caller expects is re-read: a stale cache
        must not turn into a false conflict.
        """
        lasts: dict[str, int] = {}
        missing: list[str] = []
        for execution_id in batches:
            cached = self._last_seqs.get(execution_id)
            wanted = expected.get(execution_id)
            if cached is not None and (wanted is None or wanted == cached):
                lasts[execution_id] = cached
            else:
                missing.append(execution_id)
        if missing:
            cursor = await conn.execute(QUERIES["last_seqs"], (missing,))
            found = {row[0]: int(row[1]) for row in await cursor.fetchall()}
            lasts.update({execution_id: found.get(execution_id, 0) for execution_id in missing})
        return lasts

    @staticmethod
    async def _known_keys(
        conn: Connection, execution_id: str, last: int, events: Sequence[Event], check: bool
    ) -> set[str]:
        if not check or last == 0 or not events:
            return set()  # the fast path, or an empty log (it knows no keys): skip the query
        keys = [event.key for event in events]
        cursor = await conn.execute(QUERIES["known_keys"], (execution_id, keys))
        return {row[0] for row in await cursor.fetchall()}

    @staticmethod
    async def _insert(conn: Connection, written: Mapping[str, list[Event]]) -> None:
        """Insert the events and change the projection: one statement, one round trip."""
        # Executions in a fixed order: two batches over the same executions take their locks in
        # (mostly) the same order, so they rarely deadlock (and retry when they do).
        ordered = sorted((eid, new) for eid, new in written.items() if new)
        if not ordered:
            return
        await conn.execute(QUERIES["append"], codec.append_params(ordered))

    def _remember(self, written: Mapping[str, list[Event]]) -> None:
        if len(self._last_seqs) > _SEQ_CACHE_LIMIT:
            self._last_seqs.clear()
        for execution_id, new in written.items():
            if not new:
                continue
            if any(event.type in TERMINAL_PLAYBOOK for event in new):
                # A finished execution rarely gets more events: stop caching it.
                self._last_seqs.pop(execution_id, None)
            else:
                self._last_seqs[execution_id] = int(new[-1].seq or 0)

    def _forget(self, execution_ids: Iterable[str]) -> None:
        for execution_id in execution_ids:
            self._last_seqs.pop(execution_id, None)

    async def claim(self, attempts: Sequence[ClaimAttempt]) -> list[bool]:
        """One winner per attempt across replicas (one upsert that only raises the attempts)."""
        latest = latest_attempts(attempts)
        if not latest:
            return []
        columns = ([e for e, _ in latest], [c for _, c in latest], list(latest.values()))
        won = {(e, c) for e, c in await self._query(QUERIES["claim"], columns)}
        return [(e, c) in won and latest[(e, c)] == a for e, c, a in attempts]

    async def release_claims(self, execution_id: str, command_id: str | None = None) -> None:
        """Forget the execution's claims (only `command_id`'s when given)."""
        params: tuple[str, ...] = (execution_id,)
        sql = QUERIES["release_claims"]
        if command_id is not None:
            sql, params = QUERIES["release_claim"], (execution_id, command_id)
        try:
            async with self._connection() as conn:
                await conn.execute(sql, params)
        except psycopg.Error as exc:
            raise failure("releasing claims", self._where, exc, self._dsn) from None

    async def forget_claims(self, execution_ids: Sequence[str]) -> None:
        """Delete every claim of these executions (one statement)."""
        try:
            async with self._connection() as conn:
                await conn.execute(QUERIES["prune_claims"], (list(execution_ids),))
        except psycopg.Error as exc:
            raise failure("deleting claims", self._where, exc, self._dsn) from None

    # -- reading -------------------------------------------------------------------------------

    async def _query(self, sql: str, params: Sequence[Any]) -> list[Any]:
        try:
            async with self._connection() as conn:
                cursor = await conn.execute(sql, params)
                rows: list[Any] = await cursor.fetchall()
                return rows
        except psycopg.Error as exc:
            raise failure("reading", self._where, exc, self._dsn) from None

    def _connection(self) -> Any:
        """A pooled connection (async context manager); StoreError once the store is closed."""
        if self._closed:
            raise StoreError(f"the event store on {self._where} is closed")
        return self._pool.connection()
