"""Fixtures of the contract suites: every adapter of a port runs the same tests.

No pytest-asyncio: a harness opens the adapter inside `asyncio.run`, runs the test's coroutine
and closes the adapter. To add an adapter, add one entry to `STORE_ADAPTERS` (and to
`DURABLE_STORES` when its data outlives `close()`) or to `BUS_ADAPTERS`: a function of the
pytest request that returns the opener (it may ask for other fixtures with
`request.getfixturevalue`, e.g. a PostgreSQL DSN or a NATS URL). Result stores are in
`RESULT_STORE_ADAPTERS` (`DURABLE_RESULT_STORES`, and `CHECKED_RESULT_STORES` for the ones that
verify a body's sha256 on read).

The stores with a SQLite and a PostgreSQL adapter each (catalog, credentials, hooks, schedules,
the worker registry, retention; the event store's two as well) share one parametrized fixture,
`database`: a test module's `open_store` fixture is `database.opener(SqliteXStore,
PostgresXStore)`.
"""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import httpx
import nats
import psycopg
import pytest
from nats.js.errors import NotFoundError as StreamNotFound
from psycopg import sql
from psycopg.conninfo import make_conninfo

from noetl.bus.inprocess import InProcessBus
from noetl.bus.nats import NatsBus
from noetl.bus.port import CommandBus
from noetl.client.results import RemoteResultStore
from noetl.client.transport import ServerClient
from noetl.config import Settings
from noetl.store.memory import MemoryEventStore
from noetl.store.port import EventStore
from noetl.store.postgres import PostgresEventStore
from noetl.store.postgres.results import PostgresResultStore
from noetl.store.results import FileResultStore, MemoryResultStore, ResultStore
from noetl.store.sqlite import SqliteEventStore, SqliteResultStore
from support.live_server import LiveServer

T = TypeVar("T")
S = TypeVar("S")

# Makes a bus with the given delivery options (ack_wait, max_deliver, on_dead).
BusMaker = Callable[..., Awaitable[CommandBus]]


# -- the databases a store adapter is written for ----------------------------------------------


def _postgres_schema(request: pytest.FixtureRequest) -> str:
    """A DSN whose tables go to a schema of their own (the session's PostgreSQL is shared),
    dropped after the test."""
    dsn = request.getfixturevalue("pg_dsn")
    schema = f"contract_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))

    def drop() -> None:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))

    request.addfinalizer(drop)
    return make_conninfo(dsn, options=f"-c search_path={schema}")


@dataclass
class Opener(Generic[S]):
    """Opens a new store each time it is called (on the test's database: like two processes or
    replicas on one database); `run` opens one around a test body."""

    open: Callable[[], Awaitable[S]]

    async def __call__(self) -> S:
        return await self.open()

    def run(self, body: Callable[[S], Awaitable[T]]) -> T:
        """Open a store, run `body(store)` in a fresh event loop, close the store."""

        async def main() -> T:
            store: Any = await self.open()
            try:
                return await body(store)
            finally:
                await store.close()

        return asyncio.run(main())


@dataclass
class Database:
    """Where the store under test lives: a SQLite file of the test, or a PostgreSQL schema of
    the test (dropped afterwards)."""

    name: str  # sqlite | postgres
    location: Path | str  # the file, or the DSN

    def opener(self, sqlite: Any, postgres: Any) -> Opener[Any]:
        """Opens `sqlite.open(path)` or `await postgres.open(dsn)`, as this database is."""

        async def open_store() -> Any:
            if isinstance(self.location, Path):
                return sqlite.open(self.location)
            return await postgres.open(self.location, max_size=4)

        return Opener(open_store)

    def rows(self, query: str) -> list[tuple[Any, ...]]:
        """What `query` reads from the database itself, past the adapter."""
        if isinstance(self.location, Path):
            with closing(sqlite3.connect(self.location)) as conn:
                return conn.execute(query).fetchall()
        with psycopg.connect(self.location) as conn:
            return conn.execute(query).fetchall()


def _database(request: pytest.FixtureRequest, name: str) -> Database:
    """The test's SQLite file, or a PostgreSQL schema of its own (the test is then marked
    `integration`)."""
    if name == "sqlite":
        return Database("sqlite", request.getfixturevalue("tmp_path") / "noetl.db")
    request.applymarker(pytest.mark.integration)
    return Database("postgres", _postgres_schema(request))


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest) -> Database:
    """Each database a store adapter is written for, in turn."""
    return _database(request, request.param)


# -- event stores and buses ---------------------------------------------------------------------


def _memory_store(request: pytest.FixtureRequest) -> Opener[EventStore]:
    async def open_store() -> EventStore:
        return MemoryEventStore()

    return Opener(open_store)


def _database_store(request: pytest.FixtureRequest) -> Opener[EventStore]:
    """An event store in the test's database (`request.param`: sqlite or postgres)."""
    return _database(request, request.param).opener(SqliteEventStore, PostgresEventStore)


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


# -- result stores ------------------------------------------------------------------------------

# Opens the result store under test (again: the same underlying store) for one `async with`.
ResultOpener = Callable[[], AbstractAsyncContextManager[ResultStore]]


@dataclass
class ResultHarness:
    """One result store adapter under test, with two executions it may store results of and,
    for stores that check bodies, a way to damage a stored body in place."""

    name: str
    open: ResultOpener
    executions: tuple[str, str] = ("e1", "e2")
    corrupt: Callable[[str], None] | None = None

    def run(self, body: Callable[[ResultStore], Awaitable[T]]) -> T:
        """Open the store, run `body(store)` in a fresh event loop, close the store."""

        async def main() -> T:
            async with self.open() as store:
                return await body(store)

        return asyncio.run(main())


def _memory_results(request: pytest.FixtureRequest) -> ResultHarness:
    @asynccontextmanager
    async def open_store() -> AsyncIterator[ResultStore]:
        yield MemoryResultStore()

    return ResultHarness("memory", open_store)


def _file_results(request: pytest.FixtureRequest) -> ResultHarness:
    root = request.getfixturevalue("tmp_path") / "results"

    @asynccontextmanager
    async def open_store() -> AsyncIterator[ResultStore]:
        yield FileResultStore(root)

    return ResultHarness("file", open_store)


def _sqlite_results(request: pytest.FixtureRequest) -> ResultHarness:
    path = request.getfixturevalue("tmp_path") / "state" / "noetl.db"

    @asynccontextmanager
    async def open_store() -> AsyncIterator[ResultStore]:
        store = SqliteResultStore.open(path)
        try:
            yield store
        finally:
            await store.close()

    def corrupt(key: str) -> None:
        with closing(sqlite3.connect(path)) as conn, conn:
            # Same length, other bytes: only the sha256 tells.
            conn.execute("UPDATE results SET body = zeroblob(length(body)) WHERE key = ?", (key,))

    return ResultHarness("sqlite", open_store, corrupt=corrupt)


def _postgres_results(request: pytest.FixtureRequest) -> ResultHarness:
    scoped = _postgres_schema(request)

    @asynccontextmanager
    async def open_store() -> AsyncIterator[ResultStore]:
        store = await PostgresResultStore.open(scoped, max_size=2)
        try:
            yield store
        finally:
            await store.close()

    def corrupt(key: str) -> None:
        with psycopg.connect(scoped, autocommit=True) as conn:
            conn.execute(
                "UPDATE results SET body = overlay(body placing '\\x00'::bytea from 1) "
                "WHERE key = %s",
                (key,),
            )

    return ResultHarness("postgres", open_store, corrupt=corrupt)


def _remote_results(request: pytest.FixtureRequest) -> ResultHarness:
    """The workers' store: a live server (SQLite) holding two running executions."""
    home = request.getfixturevalue("tmp_path") / "server"
    live = LiveServer(Settings(home=home, api_token="contract-token")).__enter__()
    request.addfinalizer(live.__exit__)
    playbook = "apiVersion: noetl.io/v2\nkind: Playbook\nmetadata: {name: r}\nworkflow:\n"
    playbook += "  - step: start\n    tool: {kind: python, code: 'result = 1'}\n"
    headers = {"authorization": "Bearer contract-token"}
    with httpx.Client(base_url=live.url + "/api/v2", headers=headers) as api:
        first, second = (
            api.post("/executions", json={"playbook": playbook}).json()["execution_id"]
            for _ in range(2)
        )

    @asynccontextmanager
    async def open_store() -> AsyncIterator[ResultStore]:
        client = ServerClient(live.url, token="contract-token")
        try:
            yield RemoteResultStore(client, patience=1.0)
        finally:
            await client.aclose()

    return ResultHarness("remote", open_store, (first, second))


RESULT_STORE_ADAPTERS: dict[str, Callable[[pytest.FixtureRequest], ResultHarness]] = {
    "memory": _memory_results,
    "file": _file_results,
    "sqlite": _sqlite_results,
    "postgres": _postgres_results,
    "remote": _remote_results,
}
DURABLE_RESULT_STORES = ("file", "sqlite", "postgres", "remote")
CHECKED_RESULT_STORES = ("sqlite", "postgres")


@pytest.fixture(params=list(RESULT_STORE_ADAPTERS))
def result_store(request: pytest.FixtureRequest) -> ResultHarness:
    """Each result store adapter in turn."""
    return RESULT_STORE_ADAPTERS[request.param](request)


@pytest.fixture(params=list(DURABLE_RESULT_STORES))
def durable_result_store(request: pytest.FixtureRequest) -> ResultHarness:
    """Each result store adapter whose results survive close and reopen."""
    return RESULT_STORE_ADAPTERS[request.param](request)


@pytest.fixture(params=list(CHECKED_RESULT_STORES))
def checked_result_store(request: pytest.FixtureRequest) -> ResultHarness:
    """Each result store adapter that checks a body against its recorded sha256."""
    return RESULT_STORE_ADAPTERS[request.param](request)


STORE_ADAPTERS: dict[str, Callable[[pytest.FixtureRequest], Opener[EventStore]]] = {
    "memory": _memory_store,
    "sqlite": _database_store,
    "postgres": _database_store,
}
DURABLE_STORES = ("sqlite", "postgres")
BUS_ADAPTERS: dict[str, Callable[[pytest.FixtureRequest], BusMaker]] = {
    "inprocess": _inprocess_bus,
    "nats": _nats_bus,
}


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
def event_store(request: pytest.FixtureRequest) -> Opener[EventStore]:
    """Each event store adapter in turn."""
    return STORE_ADAPTERS[request.param](request)


@pytest.fixture(params=list(DURABLE_STORES))
def durable_event_store(request: pytest.FixtureRequest) -> Opener[EventStore]:
    """Each event store adapter whose data survives close and reopen."""
    return STORE_ADAPTERS[request.param](request)


@pytest.fixture(params=list(BUS_ADAPTERS))
def bus(request: pytest.FixtureRequest) -> BusHarness:
    """Each command bus adapter in turn."""
    return BusHarness(request.param, BUS_ADAPTERS[request.param](request))
