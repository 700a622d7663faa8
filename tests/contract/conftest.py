"""Fixtures of the contract suites: every adapter of a port runs the same tests.

No pytest-asyncio: a harness opens the adapter inside `asyncio.run`, runs the test's coroutine
and closes the adapter. To add an adapter, add one entry to `STORE_ADAPTERS` (and to
`DURABLE_STORES` when its data outlives `close()`) or to `BUS_ADAPTERS`: a function of the
pytest request that returns the opener (it may ask for other fixtures with
`request.getfixturevalue`, e.g. a PostgreSQL DSN or a NATS URL).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import nats
import psycopg
import pytest
from nats.js.errors import NotFoundError as StreamNotFound
from psycopg import sql
from psycopg.conninfo import make_conninfo

from noetl.bus.inprocess import InProcessBus
from noetl.bus.nats import NatsBus
from noetl.bus.port import CommandBus
from noetl.store.memory import MemoryEventStore
from noetl.store.port import EventStore
from noetl.store.postgres import PostgresEventStore
from noetl.store.sqlite import SqliteEventStore

T = TypeVar("T")

# Opens the adapter under test. Calling it again opens the same underlying store (a reopen).
StoreOpener = Callable[[], Awaitable[EventStore]]
# Makes a bus with the given delivery options (ack_wait, max_deliver, on_dead).
BusMaker = Callable[..., Awaitable[CommandBus]]


def _memory_store(request: pytest.FixtureRequest) -> StoreOpener:
    async def open_store() -> EventStore:
        return MemoryEventStore()

    return open_store


def _sqlite_store(request: pytest.FixtureRequest) -> StoreOpener:
    path = request.getfixturevalue("tmp_path") / "state" / "noetl.db"

    async def open_store() -> EventStore:
        return SqliteEventStore.open(path)

    return open_store


def _postgres_store(request: pytest.FixtureRequest) -> StoreOpener:
    """A store in a schema of its own (the session's PostgreSQL is shared), dropped afterwards."""
    dsn = request.getfixturevalue("pg_dsn")
    schema = f"contract_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))

    def drop() -> None:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))

    request.addfinalizer(drop)
    scoped = make_conninfo(dsn, options=f"-c search_path={schema}")

    async def open_store() -> EventStore:
        return await PostgresEventStore.open(scoped, max_size=2)

    return open_store


def _inprocess_bus(request: pytest.FixtureRequest) -> BusMaker:
    async def make_bus(**options: Any) -> CommandBus:
        return InProcessBus(**options)

    return make_bus


def _nats_bus(request: pytest.FixtureRequest) -> BusMaker:
    """A bus on a stream and subjects of its own (the session's NATS is shared), deleted after."""
    url = request.getfixturevalue("nats_url")
    tag = uuid.uuid4().hex[:12]
    stream, root = f"CONTRACT_{tag}", f"contract-{tag}.commands"

    def delete() -> None:
        async def main() -> None:
            client = await nats.connect(url)
            try:
                await client.jetstream().delete_stream(stream)
            except StreamNotFound:
                pass
            finally:
                await client.close()

        asyncio.run(main())

    request.addfinalizer(delete)

    async def make_bus(**options: Any) -> CommandBus:
        return await NatsBus.connect(url, stream=stream, subject_root=root, **options)

    return make_bus


STORE_ADAPTERS: dict[str, Callable[[pytest.FixtureRequest], StoreOpener]] = {
    "memory": _memory_store,
    "sqlite": _sqlite_store,
    "postgres": _postgres_store,
}
DURABLE_STORES = ("sqlite", "postgres")
BUS_ADAPTERS: dict[str, Callable[[pytest.FixtureRequest], BusMaker]] = {
    "inprocess": _inprocess_bus,
    "nats": _nats_bus,
}


@dataclass
class StoreHarness:
    """One store adapter under test."""

    name: str
    open: StoreOpener

    def run(self, body: Callable[[EventStore], Awaitable[T]]) -> T:
        """Open the store, run `body(store)` in a fresh event loop, close the store."""

        async def main() -> T:
            store = await self.open()
            try:
                return await body(store)
            finally:
                await store.close()

        return asyncio.run(main())


@dataclass
class BusHarness:
    """One bus adapter under test."""

    name: str
    make: BusMaker

    def run(self, body: Callable[[CommandBus], Awaitable[T]], **options: Any) -> T:
        """Make a bus with `options`, run `body(bus)` in a fresh event loop, close the bus."""

        async def main() -> T:
            bus = await self.make(**options)
            try:
                return await body(bus)
            finally:
                await bus.close()

        return asyncio.run(main())


@pytest.fixture(params=list(STORE_ADAPTERS))
def event_store(request: pytest.FixtureRequest) -> StoreHarness:
    """Each event store adapter in turn."""
    return StoreHarness(request.param, STORE_ADAPTERS[request.param](request))


@pytest.fixture(params=list(DURABLE_STORES))
def durable_event_store(request: pytest.FixtureRequest) -> StoreHarness:
    """Each event store adapter whose data survives close and reopen."""
    return StoreHarness(request.param, STORE_ADAPTERS[request.param](request))


@pytest.fixture(params=list(BUS_ADAPTERS))
def bus(request: pytest.FixtureRequest) -> BusHarness:
    """Each command bus adapter in turn."""
    return BusHarness(request.param, BUS_ADAPTERS[request.param](request))
