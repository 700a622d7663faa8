"""Row <-> value conversions shared by the SQL adapters (SQLite, PostgreSQL).

Both adapters select the same columns in the same order; they differ only in how a database
hands back times (SQLite: the ISO text as written; PostgreSQL: a datetime) and JSON columns
(SQLite: text; PostgreSQL: decoded JSONB). Each adapter passes its two decoders.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from json.encoder import c_make_encoder, encode_basestring_ascii  # type: ignore[attr-defined]
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
# An event's payload (five or six per step) goes straight to the C encoder, made once:
# `JSONEncoder.encode` makes a new one on every call, a third of a small payload's cost. Without
# circular-reference markers it keeps no state between calls (any thread may use it); a circular
# payload recurses until Python's recursion limit stops it. The text is `_ENCODER`'s.
_PAYLOAD_ENCODER = c_make_encoder(
    None, _json_default, encode_basestring_ascii, None, ":", ",", False, False, True
)


def dumps(value: Any, what: str) -> str:
    """JSON text for a column, with the codec's handling of tuples, sets, dates and bytes."""
    try:
        return _ENCODER.encode(value)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"{what} cannot be written as JSON: {exc}") from exc


def payload_json(event: Event) -> str:
    """JSON text of an event's payload (any mapping, encoded as the dict it holds); the error
    names the event. The one encoding of a payload on its way into a row."""
    try:
        return "".join(_PAYLOAD_ENCODER(event.payload, 0))
    except RecursionError:
        why = "it refers to itself, or nests too deeply"
    except (TypeError, ValueError) as exc:
        why = str(exc)
    where = f"payload of event {event.type} (step {event.step!r})"
    raise StoreError(f"{where} cannot be written as JSON: {why}")


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


def tally_query(
    execution_id: str,
    after_seq: int,
    upto_seq: int,
    types: Collection[str],
    *,
    mark: str,
    worker: str,
) -> tuple[str, list[Any]]:
    """The query of `EventStore.tally_iterations`, one pass over the stretch: (step, type,
    worker, count, last seq, first seq) of the iterations' events of `types`, the worker only
    for step endings. `worker` is the adapter's expression of `payload.worker_id` as text
    (the database reads it; Python decodes no payload)."""
    ends = sorted(STEP_ENDINGS & set(types))
    named = (
        f"CASE WHEN type IN ({', '.join([mark] * len(ends))}) THEN {worker} END" if ends else "NULL"
    )
    sql = (
        f"SELECT step, type, worker, COUNT(*), MAX(seq), MIN(seq) FROM (SELECT step, type, seq,"
        f" {named} AS worker FROM events WHERE {_window(types, mark)} AND seq <= {mark}"
        " AND iteration IS NOT NULL) AS stretch GROUP BY step, type, worker"
    )
    return sql, [*ends, execution_id, after_seq, *_chosen(types), upto_seq]


def tally_from_rows(rows: list[tuple[Any, ...]]) -> dict[str, IterationTally]:
    """The tallies of `tally_query`'s rows, per step."""
    counts: dict[str, dict[str, int]] = {}
    last: dict[str, dict[str, int]] = {}
    first_named: dict[str, dict[str, int]] = {}
    for step, kind, worker, count, last_seq, first_seq in rows:
        counts.setdefault(step, {})[kind] = counts.get(step, {}).get(kind, 0) + int(count)
        kept = last.setdefault(step, {})
        kept[kind] = max(kept.get(kind, 0), int(last_seq))
        if worker not in (None, ""):
            seen = first_named.setdefault(step, {})
            seen[str(worker)] = min(seen.get(str(worker), int(first_seq)), int(first_seq))
    return {
        step: IterationTally(counts[step], last[step], _first_workers(first_named.get(step, {})))
        for step in counts
    }


def _first_workers(first_seen: dict[str, int]) -> tuple[str, ...]:
    """The workers in the order they first ended an iteration, at most MAX_TALLIED_WORKERS."""
    return tuple(sorted(first_seen, key=first_seen.__getitem__)[:MAX_TALLIED_WORKERS])
