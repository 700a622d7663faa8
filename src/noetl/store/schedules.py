"""The schedule store port: schedules of catalog playbooks and the slots they fired.

A *slot* is one fire time of a schedule (UTC, ISO 8601, so text order is time order). The
slot table's key is (schedule, slot): whoever inserts a slot first owns it, which is how
several server replicas fire each slot exactly once without holding any lock in memory.
Adapters: SQLite (`noetl.store.sqlite.schedules`) and PostgreSQL
(`noetl.store.postgres.schedules`), both passing `tests/contract/test_schedule_store.py`.
"""

from __future__ import annotations

import builtins
import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Protocol

MISFIRE_POLICIES = ("skip", "run_once", "catch_up")
OVERLAP_POLICIES = ("allow", "skip", "cancel")
FIRED, SKIPPED = "fired", "skipped"


@dataclass(frozen=True)
class Schedule:
    """Run catalog playbook `path` (`version`, else the latest) with `payload` on a cron
    expression (5 or 6 fields, in `timezone`) or every `every` seconds."""

    name: str
    path: str
    cron: str | None = None
    every: float | None = None
    timezone: str = "UTC"
    payload: dict[str, Any] = field(default_factory=dict)
    version: int | None = None
    misfire: str = "skip"  # skip | run_once | catch_up
    catch_up_limit: int = 10  # catch_up: at most this many missed slots are run
    overlap: str = "allow"  # allow | skip | cancel (while its last execution runs)
    paused: bool = False
    created_at: str = ""

    def spec_json(self) -> str:
        """What the adapters keep in the `spec` column: all but name, paused and created_at."""
        spec = asdict(self)
        for key in ("name", "paused", "created_at"):
            spec.pop(key)
        return json.dumps(spec, sort_keys=True)

    @classmethod
    def from_row(cls, name: str, spec: str, paused: Any, created_at: str) -> Schedule:
        """Rebuild a schedule from its stored columns."""
        return replace(
            cls(name=name, **json.loads(spec)), paused=bool(paused), created_at=created_at
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form."""
        return asdict(self)


@dataclass(frozen=True)
class Slot:
    """One handled fire time: `fired` (with the execution it started) or `skipped` (why)."""

    schedule: str
    slot: str
    status: str
    execution_id: str | None
    reason: str | None
    created_at: str

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form."""
        return asdict(self)


class ScheduleStore(Protocol):
    """Schedules and their slots."""

    async def add(self, schedule: Schedule) -> Schedule:
        """Store a new schedule (stamped with `created_at`); ConflictError when the name is
        taken."""
        ...

    async def get(self, name: str) -> Schedule:
        """The schedule called `name`; NotFoundError when there is none."""
        ...

    async def list(self) -> builtins.list[Schedule]:
        """Every schedule, by name."""
        ...

    async def set_paused(self, name: str, paused: bool) -> Schedule:
        """Pause or resume; the schedule after (NotFoundError when unknown)."""
        ...

    async def delete(self, name: str) -> bool:
        """Remove a schedule and its slots; True when it existed."""
        ...

    async def claim_slot(self, name: str, slot: str, status: str, reason: str | None) -> bool:
        """Record slot `slot` of `name` as handled; True for exactly one caller per slot."""
        ...

    async def set_slot_execution(self, name: str, slot: str, execution_id: str) -> None:
        """The execution a fired slot started."""
        ...

    async def slots(self, name: str, limit: int = 20) -> builtins.list[Slot]:
        """The schedule's handled slots, newest first."""
        ...

    async def latest_execution(self, name: str) -> str | None:
        """The execution of the schedule's latest fired slot (skipped slots after it, however
        many, do not hide it); None before the first."""
        ...

    async def close(self) -> None:
        """Release resources. Idempotent."""
        ...
