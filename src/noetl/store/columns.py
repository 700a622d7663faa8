"""Row <-> value conversions shared by the SQL adapters (SQLite, PostgreSQL).

Both adapters select the same columns in the same order; they differ only in how a database
hands back times (SQLite: the ISO text as written; PostgreSQL: a datetime) and JSON columns
(SQLite: text; PostgreSQL: decoded JSONB). Each adapter passes its two decoders.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from noetl.engine.events import Event, _json_default
from noetl.errors import StoreError
from noetl.store.port import ExecutionSummary

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
    )
