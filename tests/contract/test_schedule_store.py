"""The schedule store port against both adapters: SQLite (a real file) and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from noetl.errors import ConflictError, NotFoundError
from noetl.store.postgres.schedules import PostgresScheduleStore
from noetl.store.schedules import FIRED, SKIPPED, Schedule, ScheduleStore
from noetl.store.sqlite.schedules import SqliteScheduleStore

T = TypeVar("T")
Opener = Callable[[], Awaitable[ScheduleStore]]
NIGHTLY = Schedule(
    "nightly",
    "team/etl",
    cron="0 2 * * *",
    timezone="Europe/Paris",
    payload={"day": "yesterday", "n": [1, 2]},
    misfire="catch_up",
    catch_up_limit=3,
    overlap="skip",
)


@pytest.fixture
def schema_dsn(pg_dsn: str) -> Iterator[str]:
    schema = f"schedules_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    yield make_conninfo(pg_dsn, options=f"-c search_path={schema}")
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture(params=["sqlite", "postgres"])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Opener:
    """Opens a new store on the same database each time it is called (like two replicas)."""
    if request.param == "sqlite":
        path = tmp_path / "noetl.db"

        async def sqlite() -> ScheduleStore:
            return SqliteScheduleStore.open(path)

        return sqlite
    request.applymarker(pytest.mark.integration)
    dsn = request.getfixturevalue("schema_dsn")

    async def postgres() -> ScheduleStore:
        return await PostgresScheduleStore.open(dsn, max_size=4)

    return postgres


def using(opener: Opener, body: Callable[[ScheduleStore], Awaitable[T]]) -> T:
    async def main() -> T:
        store = await opener()
        try:
            return await body(store)
        finally:
            await store.close()

    return asyncio.run(main())


def test_a_schedule_comes_back_as_it_was_added(open_store):
    async def body(store: ScheduleStore) -> Any:
        added = await store.add(NIGHTLY)
        return added, await store.get("nightly"), await store.list()

    added, got, listed = using(open_store, body)
    assert added == got and listed == [got]
    assert got.created_at[:2] == "20" and got.paused is False
    assert got.to_dict() | {"created_at": ""} == NIGHTLY.to_dict()


def test_names_are_unique_and_unknown_names_are_not_found(open_store):
    async def body(store: ScheduleStore) -> Any:
        await store.add(NIGHTLY)
        with pytest.raises(ConflictError, match="nightly"):
            await store.add(Schedule("nightly", "other", every=5))
        for call in (store.get("nope"), store.set_paused("nope", True)):
            with pytest.raises(NotFoundError, match="'nope' not found"):
                await call
        return await store.delete("nope"), await store.list()

    deleted, listed = using(open_store, body)
    assert deleted is False and [s.path for s in listed] == ["team/etl"]


def test_pause_resume_and_delete_with_its_slots(open_store):
    async def body(store: ScheduleStore) -> Any:
        await store.add(NIGHTLY)
        paused = await store.set_paused("nightly", True)
        resumed = await store.set_paused("nightly", False)
        await store.claim_slot("nightly", "2026-12-06T01:00:00+00:00", FIRED, None)
        deleted = await store.delete("nightly")
        await store.add(NIGHTLY)  # the same name again starts without slots
        return paused.paused, resumed.paused, deleted, await store.slots("nightly")

    assert using(open_store, body) == (True, False, True, [])


def test_a_slot_is_claimed_once_across_stores(open_store):
    slot = "2026-12-06T01:00:00+00:00"

    async def claim_from_several() -> list[bool]:
        first = await open_store()
        await first.add(NIGHTLY)
        stores = [first, *[await open_store() for _ in range(3)]]
        try:
            claims = [s.claim_slot("nightly", slot, FIRED, None) for s in stores for _ in (1, 2)]
            won = await asyncio.gather(*claims)
            await first.set_slot_execution("nightly", slot, "42")
            await first.claim_slot("nightly", "2026-12-07T01:00:00+00:00", SKIPPED, "overlap")
            return [*won, await first.slots("nightly")]
        finally:
            for s in stores:
                await s.close()

    *won, slots = asyncio.run(claim_from_several())
    assert won.count(True) == 1
    assert [(s.slot, s.status, s.execution_id, s.reason) for s in slots] == [
        ("2026-12-07T01:00:00+00:00", SKIPPED, None, "overlap"),
        (slot, FIRED, "42", None),
    ]
