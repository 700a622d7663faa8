"""Row <-> value conversions shared by the SQL adapters (SQLite, PostgreSQL).

Both adapters select the same columns in the same order; they differ only in how a database
hands back times (SQLite: the ISO text as written; PostgreSQL: a datetime) and JSON columns
(SQLite: text; PostgreSQL: decoded JSONB). Each adapter passes its two decoders.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from typing import Any

from noetl.engine.events import Event, _json_default
from noetl.errors import StoreError
from noetl.store.port import (
    MAX_TALLIED_WORKERS,
    STEP_ENDINGS,
    ExecutionFilter,
    ExecutionSummary,
    IterationTally,
)

Decode = Callable[[Any], Any]

# One encoder for every column: `json.dumps` with options builds a new encoder per call.
_ENCODER = json.JSONEncoder(separators=(",", ":"), default=_json_default)


def dumps(value: Any, what: str) -> str:
    """JSON text for a column, with the codec's handling of tuples, sets, dates and bytes."""
    try:
        return _ENCODER.encode(value)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"{what} cannot be written as JSON: {exc}") from exc


def event_from_row(row: tuple[Any, ...], *, time: Decode, value: Decode) -> Event:
    """Event from a row of `read_events.sql` (through the one codec, `Event.from_dict`)."""
    (eid, seq, event_id, kind, step, iteration, command_id, origin, key, payload, at, version) = row
    return Event.from_dict(
        {
            "schema_version": version,
            "type": kind,
            "execution_id": eid,
            "seq": seq,
            "event_id": event_id,
            "created_at": time(at),
            "step": step,
            "iteration": iteration,
            "command_id": command_id,
            "origin": origin,
            "idempotency_key": key,
            "payload": value(payload),
        }
    )


def summary_from_row(row: tuple[Any, ...], *, time: Decode, value: Decode) -> ExecutionSummary:
    """ExecutionSummary from a row of `get_execution.sql` / `list_executions*.sql`."""
    (
        eid,
        name,
        path,
        status,
        started,
        finished,
        done,
        failed,
        skipped,
        result,
        error,
        parent,
        last,
        version,
    ) = row
    return ExecutionSummary(
        execution_id=eid,
        playbook_name=name,
        playbook_path=path,
        status=status,
        started_at=time(started) or "",
        finished_at=time(finished),
        steps_done=done,
        steps_failed=failed,
        steps_skipped=skipped,
        result=value(result),
        error=value(error),
        parent_execution_id=parent,
        last_seq=int(last),
        playbook_version=version,
    )


def list_query(
    select: str,
    where: ExecutionFilter,
    *,
    mark: str,
    time_mark: str,
    tiebreak: str,
) -> tuple[str, list[Any]]:
    """`select` (columns FROM executions AS x) with `where`'s conditions, newest first.

    `mark` is the adapter's parameter placeholder, `time_mark` the one for a time value, and
    `tiebreak` the column that orders executions started in the same microsecond (SQLite's
    rowid, PostgreSQL's position). The conditions are only those given, so the planner sees a
    plain range on an index, never `? IS NULL OR ...`. Ends in `LIMIT mark OFFSET mark`.
    """
    conditions: list[str] = []
    params: list[Any] = []
    for column, value, test in (
        ("status", where.status, "="),
        ("playbook_path", where.playbook, "="),
        ("parent_execution_id", where.parent, "="),
        ("started_at", where.since, ">="),
        ("started_at", where.until, "<"),
    ):
        if value is not None:
            conditions.append(f"{column} {test} {time_mark if column == 'started_at' else mark}")
            params.append(value)
    if where.id_prefix:  # a range on the key (an index seek), no LIKE pattern to escape
        conditions.append(f"execution_id >= {mark} AND execution_id < {mark}")
        params += [where.id_prefix, _after_prefix(where.id_prefix)]
    if where.before is not None:
        conditions.append(
            f"(started_at, {tiebreak}) < (SELECT started_at, {tiebreak} FROM executions "
            f"WHERE execution_id = {mark})"
        )
        params.append(where.before)
    sql = select
    if conditions:
        sql += "\nWHERE " + " AND ".join(conditions)
    sql += f"\nORDER BY started_at DESC, {tiebreak} DESC\nLIMIT {mark} OFFSET {mark}"
    return sql, params


def _after_prefix(prefix: str) -> str:
    """The least string above every string that starts with `prefix`."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def filtered_read(
    select: str,
    execution_id: str,
    after_seq: int,
    limit: int | None,
    *,
    types: Collection[str] | None,
    step: str | None,
    mark: str,
    iterations: bool = True,
    newest_first: bool = False,
) -> tuple[str, list[Any]]:
    """`select` (columns FROM events) narrowed to some types and/or one step and/or no loop
    iteration's, in seq order (`newest_first`: the reverse).

    The rows are still found by the (execution_id, seq) key; the conditions spare decoding the
    events nobody asked for (a 10,000-iteration loop's commands, when only step ends matter).
    Newest first walks the key backwards, so a step's latest ending is found without reading
    what came before it.
    """
    sql = f"{select}\nWHERE {_window(types, mark)}"
    params: list[Any] = [execution_id, after_seq, *_chosen(types)]
    if step is not None:
        sql += f" AND step = {mark}"
        params.append(step)
    if not iterations:
        sql += " AND iteration IS NULL"
    sql += "\nORDER BY seq DESC" if newest_first else "\nORDER BY seq"
    if limit is not None:
        sql += f"\nLIMIT {mark}"
        params.append(max(limit, 0))
    return sql, params


def _chosen(types: Collection[str] | None) -> list[str]:
    return [] if types is None else sorted(set(types)) or [""]  # no type: nothing matches


def _window(types: Collection[str] | None, mark: str) -> str:
    """The conditions on execution, seq and type (parameters: id, after_seq, `_chosen`)."""
    where = f"execution_id = {mark} AND seq > {mark}"
    if types is not None:
        where += f" AND type IN ({', '.join([mark] * len(_chosen(types)))})"
    return where


def tally_queries(
    execution_id: str,
    after_seq: int,
    upto_seq: int,
    types: Collection[str],
    *,
    mark: str,
    worker: str,
) -> tuple[tuple[str, list[Any]], tuple[str, list[Any]]]:
    """The two queries of `EventStore.tally_iterations`: (step, type, count, last seq) of the
    iterations' events of `types`, and (step, worker, first seq) of the workers their step
    endings name, in the order they first ended. `worker` is the adapter's expression of
    `payload.worker_id` as text (the database reads it; Python decodes no payload)."""
    window = f"{_window(types, mark)} AND seq <= {mark} AND iteration IS NOT NULL"
    params: list[Any] = [execution_id, after_seq, *_chosen(types), upto_seq]
    counts = (
        f"SELECT step, type, COUNT(*), MAX(seq) FROM events WHERE {window} GROUP BY step, type",
        params,
    )
    ends = sorted(STEP_ENDINGS & set(types)) or [""]
    end_window = f"{_window(ends, mark)} AND seq <= {mark} AND iteration IS NOT NULL"
    workers = (
        f"SELECT step, worker, MIN(seq) AS first FROM (SELECT step, seq, {worker} AS worker"
        f" FROM events WHERE {end_window}) AS ended WHERE worker IS NOT NULL AND worker <> ''"
        " GROUP BY step, worker ORDER BY first",
        [execution_id, after_seq, *ends, upto_seq],
    )
    return counts, workers


def tally_from_rows(
    counted: list[tuple[Any, ...]], named: list[tuple[Any, ...]]
) -> dict[str, IterationTally]:
    """The tallies of `tally_queries`' rows, per step."""
    counts: dict[str, dict[str, int]] = {}
    last: dict[str, dict[str, int]] = {}
    for step, kind, count, last_seq in counted:
        counts.setdefault(step, {})[kind] = int(count)
        last.setdefault(step, {})[kind] = int(last_seq)
    workers: dict[str, list[str]] = {}
    for step, worker, _first in named:
        kept = workers.setdefault(step, [])
        if len(kept) < MAX_TALLIED_WORKERS:
            kept.append(str(worker))
    return {
        step: IterationTally(counts[step], last[step], tuple(workers.get(step, ())))
        for step in counts
    }
