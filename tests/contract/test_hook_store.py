"""The hook store port against both adapters: SQLite (a real file) and PostgreSQL."""

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
from noetl.store.hooks import Hook, HookStore, hash_secret, new_secret
from noetl.store.postgres.hooks import PostgresHookStore
from noetl.store.sqlite.hooks import SqliteHookStore

T = TypeVar("T")
Opener = Callable[[], Awaitable[HookStore]]


@pytest.fixture
def schema_dsn(pg_dsn: str) -> Iterator[str]:
    schema = f"hooks_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    yield make_conninfo(pg_dsn, options=f"-c search_path={schema}")
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture(params=["sqlite", "postgres"])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Opener:
    if request.param == "sqlite":
        path = tmp_path / "noetl.db"

        async def sqlite() -> HookStore:
            return SqliteHookStore.open(path)

        return sqlite
    request.applymarker(pytest.mark.integration)
    dsn = request.getfixturevalue("schema_dsn")

    async def postgres() -> HookStore:
        return await PostgresHookStore.open(dsn, max_size=2)

    return postgres


def using(opener: Opener, body: Callable[[HookStore], Awaitable[T]]) -> T:
    async def main() -> T:
        store = await opener()
        try:
            return await body(store)
        finally:
            await store.close()

    return asyncio.run(main())


def test_hooks_are_stored_with_a_hash_of_their_secret_only(open_store):
    secret = new_secret()

    async def body(store: HookStore) -> Any:
        added = await store.add(Hook("deploy", "team/deploy", 2, hash_secret(secret)))
        with pytest.raises(ConflictError, match="deploy"):
            await store.add(Hook("deploy", "other", None, hash_secret("x")))
        with pytest.raises(NotFoundError, match="'nope' not found"):
            await store.get("nope")
        listed = await store.list()
        return added, listed, await store.delete("deploy"), await store.delete("deploy")

    added, listed, first, second = using(open_store, body)
    assert (added.name, added.path, added.version) == ("deploy", "team/deploy", 2)
    assert listed == [added] and added.created_at[:2] == "20"
    assert added.accepts(secret) and not added.accepts(secret + "x") and not added.accepts("")
    assert secret not in str(added.to_dict()) and added.secret_sha256 not in str(added.to_dict())
    assert (first, second) == (True, False)
