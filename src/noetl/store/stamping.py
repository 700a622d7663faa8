"""What every adapter does to events on append: drop duplicates, then stamp seq, id and time."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime

from noetl.engine.events import Event
from noetl.errors import StoreError
from noetl.ids import new_id


def utc_now() -> str:
    """The current time as UTC ISO-8601 with microseconds (how `created_at` is written)."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def check_batch(execution_id: str, events: Sequence[Event]) -> None:
    """Refuse events that belong to another execution than the one they are appended to."""
    for event in events:
        if event.execution_id != execution_id:
            raise StoreError(
                f"event {event.type} of execution {event.execution_id!r} was appended "
                f"to execution {execution_id!r}"
            )


def fresh(events: Sequence[Event], known_keys: Collection[str]) -> list[Event]:
    """The events whose idempotency key is neither known nor repeated earlier in the batch."""
    seen = set(known_keys)
    kept = []
    for event in events:
        key = event.key
        if key not in seen:
            seen.add(key)
            kept.append(event)
    return kept


def stamp(events: Sequence[Event], after_seq: int, created_at: str) -> list[Event]:
    """Copies of `events` numbered `after_seq + 1 ...`, each with a new id; an event that says
    when it happened (a worker's task attempt) keeps its time, the others get `created_at`.

    This is `Event.stamped` plus pinning a derived idempotency key (so the event `append`
    returns equals the one `read` gives back later), done as one construction: two
    `dataclasses.replace` calls per event cost more than the SQLite insert itself.
    """
    return [
        Event(
            type=event.type,
            execution_id=event.execution_id,
            step=event.step,
            iteration=event.iteration,
            command_id=event.command_id,
            payload=event.payload,
            origin=event.origin,
            idempotency_key=event.key,
            seq=after_seq + offset,
            event_id=new_id(),
            created_at=event.created_at or created_at,
            schema_version=event.schema_version,
        )
        for offset, event in enumerate(events, start=1)
    ]
