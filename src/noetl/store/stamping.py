"""What every adapter does to events on append: drop duplicates, then stamp seq, id and time."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import replace
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
    """Copies of `events` numbered `after_seq + 1 ...`, each with a new id (`Event.stamped`).

    A derived idempotency key is pinned on the copy, so the event returned by `append` equals
    the one `read` gives back later.
    """
    stamped = []
    for offset, event in enumerate(events, start=1):
        if event.idempotency_key is None:
            event = replace(event, idempotency_key=event.key)
        stamped.append(
            event.stamped(seq=after_seq + offset, event_id=new_id(), created_at=created_at)
        )
    return stamped
