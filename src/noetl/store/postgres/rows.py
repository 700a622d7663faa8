"""Conversions between events / projections and the rows of the PostgreSQL tables.

An append is written by one statement (`append.sql`) whose parameters are column arrays: one
array per column, one element per row, for the events and for the projection's changes.

JSON columns are JSONB: values are written as JSON text (cast in the SQL) and psycopg decodes
them on read. Times are TIMESTAMPTZ: written as the ISO text the store stamps, read back as the
same text (UTC, microseconds), so an event read equals the event `append` returned.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from noetl.engine.events import Event
from noetl.store import columns, projection
from noetl.store.columns import dumps
from noetl.store.port import RUNNING, ExecutionSummary
from noetl.store.projection import ExecutionChange


def iso(value: datetime | None) -> str | None:
    """UTC ISO-8601 text with microseconds (how the store stamps `created_at`)."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def event_from_row(row: tuple[Any, ...]) -> Event:
    """Event from a row of `read_events.sql` (JSONB arrives decoded)."""
    return columns.event_from_row(row, time=iso, value=_as_is)


def summary_from_row(row: tuple[Any, ...]) -> ExecutionSummary:
    """ExecutionSummary from a row of `get_execution.sql` / `list_executions*.sql`."""
    return columns.summary_from_row(row, time=iso, value=_as_is)


def _as_is(value: Any) -> Any:
    return value


def append_params(written: Sequence[tuple[str, Sequence[Event]]]) -> dict[str, list[Any]]:
    """Parameters of `append.sql`: one array per column, for the events and the projection."""
    params: dict[str, list[Any]] = {name: [] for name in _EVENT_COLUMNS + _NEW + _UPDATE}
    for execution_id, new in written:
        for event in new:
            _add(params, "", _event_values(event))
        change = projection.fold(execution_id, int(new[-1].seq or 0), new)
        if change.started is not None:
            summary = projection.apply(None, change)
            if summary is not None:
                _add(params, "new_", _new_values(summary))
        elif change.touches_summary:
            _add(params, "upd_", _update_values(change))
    return params


_EVENT_COLUMNS = (
    "execution_id",
    "seq",
    "event_id",
    "type",
    "step",
    "iteration",
    "command_id",
    "origin",
    "idempotency_key",
    "payload",
    "created_at",
    "schema_version",
)
_NEW = tuple(
    f"new_{name}"
    for name in (
        "execution_id",
        "playbook_name",
        "playbook_path",
        "status",
        "started_at",
        "finished_at",
        "steps_done",
        "steps_failed",
        "steps_skipped",
        "result",
        "error",
        "parent_execution_id",
    )
)
_UPDATE = tuple(
    f"upd_{name}"
    for name in (
        "execution_id",
        "steps_done",
        "steps_failed",
        "steps_skipped",
        "status",
        "finished_at",
        "result",
        "error",
    )
)


def _add(params: dict[str, list[Any]], prefix: str, values: dict[str, Any]) -> None:
    for name, value in values.items():
        params[prefix + name].append(value)


def _event_values(event: Event) -> dict[str, Any]:
    what = f"payload of event {event.type} (step {event.step!r})"
    return {
        "execution_id": event.execution_id,
        "seq": event.seq,
        "event_id": event.event_id,
        "type": event.type,
        "step": event.step,
        "iteration": event.iteration,
        "command_id": event.command_id,
        "origin": event.origin,
        "idempotency_key": event.key,
        "payload": dumps(dict(event.payload), what),
        "created_at": event.created_at,
        "schema_version": event.schema_version,
    }


def _new_values(summary: ExecutionSummary) -> dict[str, Any]:
    """A new execution's row, with the rest of its first append already applied."""
    where = f"execution {summary.execution_id!r}"
    ended = summary.status != RUNNING
    return {
        "execution_id": summary.execution_id,
        "playbook_name": summary.playbook_name,
        "playbook_path": summary.playbook_path,
        "status": summary.status,
        "started_at": summary.started_at,
        "finished_at": summary.finished_at,
        "steps_done": summary.steps_done,
        "steps_failed": summary.steps_failed,
        "steps_skipped": summary.steps_skipped,
        "result": dumps(summary.result, f"result of {where}") if ended else None,
        "error": dumps(summary.error, f"error of {where}") if ended else None,
        "parent_execution_id": summary.parent_execution_id,
    }


def _update_values(change: ExecutionChange) -> dict[str, Any]:
    """The net change of one append to an execution started earlier."""
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
