"""PostgreSQL schedule store: schedules and their handled slots, shared by server replicas."""

from __future__ import annotations

import builtins
from typing import Any

import psycopg

from noetl.errors import ConflictError, NotFoundError
from noetl.store.postgres.connection import failure
from noetl.store.postgres.pooled import PooledStore
from noetl.store.postgres.rows import iso
from noetl.store.postgres.statements import QUERIES
from noetl.store.schedules import FIRED, Schedule, Slot


class PostgresScheduleStore(PooledStore):
    """The schedule store port on PostgreSQL. Create it with `await ...open(dsn)`."""

    what = "schedule store"
    pool_name = "noetl-schedule-store"

    async def add(self, schedule: Schedule) -> Schedule:
        """Store a new schedule; ConflictError when the name is taken."""
        self._check_open()
        params = (schedule.name, schedule.spec_json(), schedule.paused)
        try:
            async with self._pool.connection() as conn:
                await conn.execute(QUERIES["schedule_insert"], params)
        except psycopg.errors.UniqueViolation:
            raise ConflictError(f"schedule {schedule.name!r} already exists") from None
        except psycopg.Error as exc:
            raise failure(
                f"storing schedule {schedule.name!r}", self._where, exc, self._dsn
            ) from None
        return await self.get(schedule.name)

    async def get(self, name: str) -> Schedule:
        """The schedule called `name`."""
        rows = await self._query(QUERIES["schedule_get"], (name,), "reading schedules")
        if not rows:
            raise NotFoundError(f"schedule {name!r} not found")
        return _schedule(rows[0])

    async def list(self) -> builtins.list[Schedule]:
        """Every schedule, by name."""
        rows = await self._query(QUERIES["schedule_list"], (), "listing schedules")
        return [_schedule(row) for row in rows]

    async def set_paused(self, name: str, paused: bool) -> Schedule:
        """Pause or resume."""
        if await self._count(QUERIES["schedule_pause"], (paused, name), "pausing") == 0:
            raise NotFoundError(f"schedule {name!r} not found")
        return await self.get(name)

    async def delete(self, name: str) -> bool:
        """Remove a schedule and (by the foreign key) its slots."""
        return await self._count(QUERIES["schedule_delete"], (name,), "deleting") > 0

    async def claim_slot(self, name: str, slot: str, status: str, reason: str | None) -> bool:
        """Record a handled slot; True only for its first writer."""
        rows = await self._query(
            QUERIES["slot_claim"], (name, slot, status, reason), "claiming a slot"
        )
        return bool(rows)

    async def set_slot_execution(self, name: str, slot: str, execution_id: str) -> None:
        """The execution a fired slot started."""
        await self._query(
            QUERIES["slot_set_execution"], (execution_id, name, slot), "recording a slot"
        )

    async def slots(self, name: str, limit: int = 20) -> builtins.list[Slot]:
        """Handled slots, newest first."""
        rows = await self._query(QUERIES["slot_list"], (name, limit), "reading slots")
        return [Slot(s, slot, st, e, r, iso(c) or "") for s, slot, st, e, r, c in rows]

    async def latest_execution(self, name: str) -> str | None:
        """The execution of the latest fired slot."""
        rows = await self._query(
            QUERIES["slot_latest_execution"], (name, FIRED), "reading the latest fired slot"
        )
        return str(rows[0][0]) if rows else None

    async def _count(self, sql: str, params: tuple[object, ...], doing: str) -> int:
        self._check_open()
        try:
            async with self._pool.connection() as conn:
                return (await conn.execute(sql, params)).rowcount
        except psycopg.Error as exc:
            raise failure(doing, self._where, exc, self._dsn) from None


def _schedule(row: tuple[Any, ...]) -> Schedule:
    name, spec, paused, created = row
    return Schedule.from_row(name, spec, paused, iso(created) or "")
