"""Conversions between events / projections and the rows of the PostgreSQL tables.

An append is written by one statement (`append.sql`) whose parameters are JSON arrays of rows,
for the events (each row an array, by position) and for the projection's changes (each an
object): one text parameter each, which psycopg sends as is (column arrays, one per column,
cost far more to adapt per append).

JSON columns are JSONB: values are written as JSON text (cast in the SQL) and psycopg decodes
them on read. Times are TIMESTAMPTZ: written as the ISO text the store stamps, read back as the
same text (UTC, microseconds), so an event read equals the event `append` returned.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from noetl.engine.events import Event
from noetl.errors import StoreError
from noetl.store import columns, projection
from noetl.store.columns import dumps, payload_json
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


def append_params(written: Sequence[tuple[str, Sequence[Event]]]) -> dict[str, str]:
    """Parameters of `append.sql`: `events`, `started` and `changed`, each a JSON array of rows
    (`started` and `changed` are `[]` when the append does not touch the projection)."""
    events: list[Event] = []
    rows: dict[str, list[str]] = {"started": [], "changed": []}
    for execution_id, new in written:
        events.extend(new)
        change = projection.fold(execution_id, int(new[-1].seq or 0), new)
        if change.started is not None:
            summary = projection.apply(None, change)
            if summary is not None:
                rows["started"].append(_new_row(summary))
        elif change.touches_summary:
            rows["changed"].append(_update_row(change))
    params = {name: "[" + ",".join(found) + "]" for name, found in rows.items()}
    return {"events": _event_rows(events), **params}


# The position of each column in an event's row (`append.sql` reads them by position).
EVENT_COLUMNS = (
    "execution_id",
    "seq",
    "event_id",
    "type",
    "step",
    "iteration",
    "command_id",
    "origin",
    "idempotency_key",
    "created_at",
    "schema_version",
    "payload",
)


def _event_rows(events: Sequence[Event]) -> str:
    """The events as one JSON array of rows, each an array in the order of `EVENT_COLUMNS`,
    encoded in one call (a call per event, or per column, was a tenth of the server's time in
    a loop); a payload that cannot be encoded is named by its event."""
    rows = [
        (
            event.execution_id,
            event.seq,
            event.event_id,
            event.type,
            event.step,
            event.iteration,
            event.command_id,
            event.origin,
            event.key,
            event.created_at,
            event.schema_version,
            event.payload if type(event.payload) is dict else dict(event.payload),
        )
        for event in events
    ]
    try:
        return dumps(rows, "events")
    except StoreError:
        for event in events:
            payload_json(event)
        raise


def _row(values: dict[str, Any], json_columns: dict[str, str | None]) -> str:
    """One row as a JSON object: `values` encoded here, `json_columns` already JSON text."""
    head = json.dumps(values, separators=(",", ":"))
    spliced = "".join(
        f',"{name}":{"null" if text is None else text}' for name, text in json_columns.items()
    )
    return head[:-1] + spliced + "}"


def _new_row(summary: ExecutionSummary) -> str:
    """A new execution's row, with the rest of its first append already applied."""
    where = f"execution {summary.execution_id!r}"
    ended = summary.status != RUNNING
    values = {
        "execution_id": summary.execution_id,
        "playbook_name": summary.playbook_name,
        "playbook_path": summary.playbook_path,
        "status": summary.status,
        "started_at": summary.started_at,
        "finished_at": summary.finished_at,
        "steps_done": summary.steps_done,
        "steps_failed": summary.steps_failed,
        "steps_skipped": summary.steps_skipped,
        "parent_execution_id": summary.parent_execution_id,
        "playbook_version": summary.playbook_version,
    }
    return _row(
        values,
        {
            "result": dumps(summary.result, f"result of {where}") if ended else None,
            "error": dumps(summary.error, f"error of {where}") if ended else None,
        },
    )


def _update_row(change: ExecutionChange) -> str:
    """The net change of one append to an execution started earlier."""
    end = change.terminal
    where = f"execution {change.execution_id!r}"
    values = {
        "execution_id": change.execution_id,
        "steps_done": change.steps_done,
        "steps_failed": change.steps_failed,
        "steps_skipped": change.steps_skipped,
        "status": None if end is None else end.status,
        "finished_at": None if end is None else end.finished_at,
    }
    return _row(
        values,
        {
            "result": None if end is None else dumps(end.result, f"result of {where}"),
            "error": None if end is None else dumps(end.error, f"error of {where}"),
        },
    )
