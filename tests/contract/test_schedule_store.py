"""The schedule store port against both adapters: SQLite (a real file) and PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from noetl.errors import ConflictError, NotFoundError
from noetl.store.postgres.schedules import PostgresScheduleStore
from noetl.store.schedules import FIRED, SKIPPED, Schedule, ScheduleStore
from noetl.store.sqlite.schedules import SqliteScheduleStore

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
def open_store(database):
    """Opens a new store on the test's database each time it is called (like two processes)."""
    return database.opener(SqliteScheduleStore, PostgresScheduleStore)


def test_a_schedule_comes_back_as_it_was_added(open_store):
    async def body(store: ScheduleStore) -> Any:
        added = await store.add(NIGHTLY)
        return added, await store.get("nightly"), await store.list()

    added, got, listed = open_store.run(body)
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

    deleted, listed = open_store.run(body)
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

    assert open_store.run(body) == (True, False, True, [])


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


def test_the_latest_execution_is_found_behind_any_number_of_skipped_slots(open_store):
    async def record() -> list[str | None]:
        store = await open_store()
        try:
            await store.add(NIGHTLY)
            seen = [await store.latest_execution("nightly")]
            await store.claim_slot("nightly", "2026-12-01T01:00:00+00:00", FIRED, None)
            seen.append(await store.latest_execution("nightly"))  # no execution recorded yet
            await store.set_slot_execution("nightly", "2026-12-01T01:00:00+00:00", "41")
            for day in range(2, 12):
                slot = f"2026-12-{day:02d}T01:00:00+00:00"
                await store.claim_slot("nightly", slot, SKIPPED, "overlap")
            seen.append(await store.latest_execution("nightly"))
            await store.claim_slot("nightly", "2026-12-12T01:00:00+00:00", FIRED, None)
            await store.set_slot_execution("nightly", "2026-12-12T01:00:00+00:00", "42")
            seen.append(await store.latest_execution("nightly"))
            return seen
        finally:
            await store.close()

    assert asyncio.run(record()) == [None, None, "41", "42"]
