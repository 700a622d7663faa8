"""Conversions between events / projections and the rows of the SQLite tables."""

from __future__ import annotations

import json
from typing import Any

from noetl.engine.events import TERMINAL_PLAYBOOK, Event, _json_default
from noetl.errors import StoreError
from noetl.store.port import ExecutionSummary
from noetl.store.projection import ExecutionChange

TERMINAL = TERMINAL_PLAYBOOK


# One encoder for every column: `json.dumps` with options builds a new encoder per call.
_ENCODER = json.JSONEncoder(separators=(",", ":"), default=_json_default)


def dumps(value: Any, what: str) -> str:
    """JSON text for a column, with the codec's handling of tuples, sets, dates and bytes."""
    try:
        return _ENCODER.encode(value)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"{what} cannot be written as JSON: {exc}") from exc


def loads(text: str | None) -> Any:
    """Value of a JSON column (SQL NULL is None)."""
    return None if text is None else json.loads(text)


def event_row(event: Event) -> tuple[Any, ...]:
    """Parameters of `insert_event.sql` for a stamped event."""
    payload = dumps(dict(event.payload), f"payload of event {event.type} (step {event.step!r})")
    return (
        event.execution_id,
        event.seq,
        event.event_id,
        event.type,
        event.step,
        event.iteration,
        event.command_id,
        event.origin,
        event.key,
        payload,
        event.created_at,
        event.schema_version,
    )


def event_from_row(row: tuple[Any, ...]) -> Event:
    """Event from a row of `read_events.sql` (through the one codec, `Event.from_dict`)."""
    (eid, seq, event_id, kind, step, iteration, command_id, origin, key, payload, at, version) = row
    return Event.from_dict(
        {
            "schema_version": version,
            "type": kind,
            "execution_id": eid,
            "seq": seq,
            "event_id": event_id,
            "created_at": at,
            "step": step,
            "iteration": iteration,
            "command_id": command_id,
            "origin": origin,
            "idempotency_key": key,
            "payload": json.loads(payload),
        }
    )


def summary_from_row(row: tuple[Any, ...]) -> ExecutionSummary:
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
        started_at=started,
        finished_at=finished,
        steps_done=done,
        steps_failed=failed,
        steps_skipped=skipped,
        result=loads(result),
        error=loads(error),
        parent_execution_id=parent,
        last_seq=last,
    )


def start_params(change: ExecutionChange) -> dict[str, Any]:
    """Parameters of `insert_execution.sql` (the change must carry `started`)."""
    started = change.started
    if started is None:
        raise StoreError(f"execution {change.execution_id!r} has no playbook.started to insert")
    return {
        "execution_id": change.execution_id,
        "playbook_name": started.playbook_name,
        "playbook_path": started.playbook_path,
        "started_at": started.started_at,
        "parent_execution_id": started.parent_execution_id,
    }


def update_params(change: ExecutionChange) -> dict[str, Any]:
    """Parameters of `update_execution.sql`."""
    end = change.terminal
    where = f"execution {change.execution_id!r}"
    return {
        "execution_id": change.execution_id,
        "steps_done": change.steps_done,
        "steps_failed": change.steps_failed,
        "steps_skipped": change.steps_skipped,
        "status": None if end is None else end.status,
        "finished_at": None if end is None else end.finished_at,
        "result": None if end is None else dumps(end.result, f"result of {where}"),
        "error": None if end is None else dumps(end.error, f"error of {where}"),
    }
