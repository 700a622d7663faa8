"""The retention port against both adapters (SQLite file, PostgreSQL): what a prune removes,
what it leaves (running executions, parents of running children, later ones) and dry runs."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from noetl.engine import events as ev
from noetl.engine.events import Event
from noetl.errors import NotFoundError
from noetl.store.postgres import PostgresEventStore
from noetl.store.postgres.results import PostgresResultStore
from noetl.store.postgres.retention import PostgresRetention
from noetl.store.sqlite import SqliteEventStore, SqliteResultStore
from noetl.store.sqlite.retention import SqliteRetention
from noetl.store.stamping import utc_now

Stores = Callable[[], Awaitable[tuple[Any, Any, Any]]]  # event store, result store, retention


@pytest.fixture
def stores(database) -> Stores:
    """Each adapter in turn, on the test's database: its event store, result store, retention."""
    openers = [
        database.opener(SqliteEventStore, PostgresEventStore),
        database.opener(SqliteResultStore, PostgresResultStore),
        database.opener(SqliteRetention, PostgresRetention),
    ]

    async def open_all() -> tuple[Any, Any, Any]:
        store, results, retention = [await opener() for opener in openers]
        return store, results, retention

    return open_all


def started(eid: str, parent: str | None = None) -> Event:
    payload = {"playbook": {"name": "p", "path": "p"}, "parent_execution_id": parent}
    return Event(ev.PLAYBOOK_STARTED, eid, payload=payload, idempotency_key="playbook.started")


def steps(eid: str, n: int) -> list[Event]:
    return [
        Event(ev.TASK_DONE, eid, "s", command_id=f"c{i}", idempotency_key=f"t{i}") for i in range(n)
    ]


def ended(eid: str, type_: str = ev.PLAYBOOK_DONE) -> Event:
    return Event(type_, eid, payload={"result": 1}, idempotency_key="playbook.end")


def test_prune_removes_old_finished_executions_and_leaves_the_rest(stores: Stores):
    async def body() -> dict[str, Any]:
        store, results, retention = await stores()
        try:
            await store.append("old", [started("old"), *steps("old", 12), ended("old")])
            await store.claim([("old", "c1", 1)])
            ref = await results.put("old", b'"big"')
            await store.append("failed", [started("failed"), ended("failed", ev.PLAYBOOK_FAILED)])
            await store.append("parent", [started("parent"), ended("parent")])
            await store.append("child", [started("child", parent="parent"), *steps("child", 2)])
            await store.append("running", [started("running"), *steps("running", 3)])
            time.sleep(0.01)
            cutoff = utc_now()
            await store.append("new", [started("new"), ended("new")])
            dry = await retention.prune(
                finished_before=cutoff, statuses=["done"], dry_run=True, chunk=5
            )
            after_dry = sorted(s.execution_id for s in await store.list_executions())
            done = await retention.prune(finished_before=cutoff, statuses=["done"], chunk=5)
            left = sorted(s.execution_id for s in await store.list_executions())
            with pytest.raises(NotFoundError):
                await store.get_execution("old")
            with pytest.raises(NotFoundError):
                await results.read(ref["result_ref"]["key"])
            gone = await store.read("old")
            await store.append("child", [ended("child")])
            parent = await retention.prune(
                finished_before=utc_now(), statuses=["done", "failed", "cancelled"]
            )
            return {
                "dry": dry,
                "after_dry": after_dry,
                "done": done,
                "left": left,
                "gone": gone,
                "parent": parent,
                "final": sorted(s.execution_id for s in await store.list_executions()),
            }
        finally:
            for s in (store, results, retention):
                await s.close()

    got = asyncio.run(body())
    dry, done = got["dry"], got["done"]
    assert dry.to_dict(dry_run=True) | {"dry_run": False} == done.to_dict(dry_run=False)
    assert (done.executions, done.events, done.claims, done.results) == (1, 14, 1, 1)
    assert done.execution_ids == ["old"]
    assert got["after_dry"] == ["child", "failed", "new", "old", "parent", "running"]
    assert got["left"] == ["child", "failed", "new", "parent", "running"]  # parent: its child runs
    assert got["gone"] == []
    assert sorted(got["parent"].execution_ids) == ["child", "failed", "new", "parent"]
    assert got["final"] == ["running"]
