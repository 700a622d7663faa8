"""Conversions between events / projections and the rows of the SQLite tables."""

from __future__ import annotations

import json
from typing import Any

from noetl.engine.events import TERMINAL_PLAYBOOK, Event
from noetl.errors import StoreError
from noetl.store import columns
from noetl.store.columns import dumps, payload_json
from noetl.store.port import ExecutionSummary
from noetl.store.projection import ExecutionChange

TERMINAL = TERMINAL_PLAYBOOK


def loads(text: str | None) -> Any:
    """Value of a JSON column (SQL NULL is None)."""
    return None if text is None else json.loads(text)


def event_row(event: Event) -> tuple[Any, ...]:
    """Parameters of `insert_event.sql` for a stamped event."""
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
        payload_json(event),
        event.created_at,
        event.schema_version,
    )


def event_from_row(row: tuple[Any, ...]) -> Event:
    """Event from a row of `read_events.sql` (times are stored as the ISO text stamped)."""
    return columns.event_from_row(row, time=_as_is, value=loads)


def summary_from_row(row: tuple[Any, ...]) -> ExecutionSummary:
    """ExecutionSummary from a row of `get_execution.sql` / `list_executions*.sql`."""
    return columns.summary_from_row(row, time=_as_is, value=loads)


def _as_is(value: Any) -> Any:
    return value


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
        "playbook_version": started.playbook_version,
    }


def count_params(change: ExecutionChange) -> dict[str, Any]:
    """Parameters of `count_steps.sql`."""
    return {
        "execution_id": change.execution_id,
        "steps_done": change.steps_done,
        "steps_failed": change.steps_failed,
        "steps_skipped": change.steps_skipped,
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
