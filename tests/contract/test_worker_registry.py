"""Contract of the worker registry port, run against every adapter (see conftest.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from noetl.store.postgres.workers import PostgresWorkerRegistry
from noetl.store.sqlite.workers import SqliteWorkerRegistry
from noetl.store.workers import FORGOTTEN_AFTER, WorkerBeat


@pytest.fixture
def worker_registry(database):
    """Each adapter in turn, on the test's database."""
    return database.opener(SqliteWorkerRegistry, PostgresWorkerRegistry)


def beat(worker_id: str, *, busy: int = 0, running: tuple[str, ...] = (), lost_after=30.0):
    return WorkerBeat(
        worker_id, "default", 4, busy, running, "0.1.0", "2026-01-01T00:00:00+00:00", lost_after
    )


def test_a_beat_registers_a_worker_and_the_next_replaces_what_it_said(worker_registry):
    async def body(registry):
        await registry.beat(beat("w1"))
        first = await registry.list()
        await registry.beat(beat("w1", busy=2, running=("c1", "c2")))
        await registry.beat(beat("w0"))
        return first, await registry.list()

    first, later = worker_registry.run(body)
    assert [w.beat.worker_id for w in first] == ["w1"]
    assert first[0].status == "alive"
    assert [w.beat.worker_id for w in later] == ["w0", "w1"]
    assert later[1].to_dict() | {"last_heartbeat": "x"} == {
        "worker_id": "w1",
        "pool": "default",
        "slots": 4,
        "busy": 2,
        "running": ["c1", "c2"],
        "version": "0.1.0",
        "started_at": "2026-01-01T00:00:00+00:00",
        "last_heartbeat": "x",
        "status": "alive",
    }
    seen = datetime.fromisoformat(later[1].last_heartbeat)
    assert seen.utcoffset() is not None
    assert abs((datetime.now(UTC) - seen).total_seconds()) < 60
    assert later[1].last_heartbeat >= first[0].last_heartbeat


def test_a_worker_silent_past_its_timeout_is_lost_and_alive_again_when_it_beats(worker_registry):
    async def body(registry):
        await registry.beat(beat("quiet", lost_after=0.2))
        await registry.beat(beat("steady", lost_after=60.0))
        await asyncio.sleep(0.5)
        silent = {w.beat.worker_id: w.status for w in await registry.list()}
        await registry.beat(beat("quiet", lost_after=0.2))
        back = {w.beat.worker_id: w.status for w in await registry.list()}
        return silent, back

    silent, back = worker_registry.run(body)
    assert silent == {"quiet": "lost", "steady": "alive"}
    assert back == {"quiet": "alive", "steady": "alive"}


def test_a_worker_that_leaves_is_forgotten_and_the_registry_outlives_a_reopen(worker_registry):
    async def body(registry):
        await registry.beat(beat("w1"))
        await registry.beat(beat("w2"))
        await registry.leave("w1")
        await registry.leave("never-registered")

    worker_registry.run(body)

    async def reopened(registry):
        return [w.beat.worker_id for w in await registry.list()]

    assert worker_registry.run(reopened) == ["w2"]


def test_a_lost_worker_is_listed_then_forgotten_after_its_retention(worker_registry):
    async def body(registry):
        await registry.beat(beat("gone", lost_after=0.1))  # lost after 0.1 s, forgotten after 1 s
        await registry.beat(beat("steady", lost_after=60.0))
        await asyncio.sleep(0.3)
        lost = {w.beat.worker_id: w.status for w in await registry.list()}
        await asyncio.sleep(FORGOTTEN_AFTER * 0.1)
        return lost, {w.beat.worker_id: w.status for w in await registry.list()}

    lost, later = worker_registry.run(body)
    assert lost == {"gone": "lost", "steady": "alive"}
    assert later == {"steady": "alive"}
