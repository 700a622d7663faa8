"""SQLite schedule store: schedules and their handled slots, in the embedded mode's database."""

from __future__ import annotations

import builtins
import sqlite3
from collections.abc import Sequence
from typing import Any

from noetl.errors import ConflictError, NotFoundError, StoreError
from noetl.store.schedules import FIRED, Schedule, Slot
from noetl.store.sqlite.connect import SqliteStore
from noetl.store.sqlite.statements import QUERIES
from noetl.store.stamping import utc_now


class SqliteScheduleStore(SqliteStore):
    """The schedule store port on SQLite. Create it with `SqliteScheduleStore.open(path)`."""

    what = "schedule store"

    async def add(self, schedule: Schedule) -> Schedule:
        """Store a new schedule; ConflictError when the name is taken."""
        now = utc_now()
        params = (schedule.name, schedule.spec_json(), int(schedule.paused), now)
        try:
            self._connection().execute(QUERIES["schedule_insert"], params)
        except sqlite3.IntegrityError:
            raise ConflictError(f"schedule {schedule.name!r} already exists") from None
        except sqlite3.Error as exc:
            raise StoreError(f"storing schedule {schedule.name!r} failed: {exc}") from exc
        return await self.get(schedule.name)

    async def get(self, name: str) -> Schedule:
        """The schedule called `name`."""
        rows = self._query(QUERIES["schedule_get"], (name,))
        if not rows:
            raise NotFoundError(f"schedule {name!r} not found")
        return Schedule.from_row(*rows[0])

    async def list(self) -> builtins.list[Schedule]:
        """Every schedule, by name."""
        return [Schedule.from_row(*row) for row in self._query(QUERIES["schedule_list"], ())]

    async def set_paused(self, name: str, paused: bool) -> Schedule:
        """Pause or resume."""
        if self._write(QUERIES["schedule_pause"], (int(paused), name)) == 0:
            raise NotFoundError(f"schedule {name!r} not found")
        return await self.get(name)

    async def delete(self, name: str) -> bool:
        """Remove a schedule and (by the foreign key) its slots."""
        return self._write(QUERIES["schedule_delete"], (name,)) > 0

    async def claim_slot(self, name: str, slot: str, status: str, reason: str | None) -> bool:
        """Record a handled slot; True only for its first writer."""
        return self._write(QUERIES["slot_claim"], (name, slot, status, reason, utc_now())) == 1

    async def set_slot_execution(self, name: str, slot: str, execution_id: str) -> None:
        """The execution a fired slot started."""
        self._write(QUERIES["slot_set_execution"], (execution_id, name, slot))

    async def slots(self, name: str, limit: int = 20) -> builtins.list[Slot]:
        """Handled slots, newest first."""
        return [Slot(*row) for row in self._query(QUERIES["slot_list"], (name, limit))]

    async def latest_execution(self, name: str) -> str | None:
        """The execution of the latest fired slot."""
        rows = self._query(QUERIES["slot_latest_execution"], (name, FIRED))
        return str(rows[0][0]) if rows else None

    def _write(self, sql: str, params: Sequence[Any]) -> int:
        try:
            return self._connection().execute(sql, params).rowcount
        except sqlite3.Error as exc:
            raise StoreError(f"writing the {self.what} in {self._where} failed: {exc}") from exc
