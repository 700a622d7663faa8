"""The credential store port against both adapters: SQLite (a real file) and PostgreSQL; what
is stored is sealed (encrypted with NOETL_SECRET_KEY). Keys, tools and masking are in
tests/integration/test_credentials.py."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from noetl.store.credentials import Credentials, CredentialStore, generate_key
from noetl.store.postgres.credentials import PostgresCredentialStore
from noetl.store.sqlite import SqliteCredentialStore

KEY = generate_key()
PASSWORD = "pw-" + uuid.uuid4().hex


@pytest.fixture
def open_store(database):
    """Opens a new store on the test's database each time it is called (like two processes)."""
    return database.opener(SqliteCredentialStore, PostgresCredentialStore)


def test_put_get_list_delete(open_store):
    async def body(store: CredentialStore) -> Any:
        new = await store.put("b", "generic", b"token-1")
        await store.put("a", "http", b"token-a")
        replaced = await store.put("b", "postgres", b"token-2")
        got = await store.get("b")
        listed = await store.list()
        deleted, again = await store.delete("b"), await store.delete("b")
        return new, replaced, got, listed, deleted, again, await store.get("b")

    new, replaced, got, listed, deleted, again, gone = open_store.run(body)
    assert (new, replaced) == (True, False)
    assert (got.info.name, got.info.type, got.token) == ("b", "postgres", b"token-2")
    assert got.info.updated_at >= got.info.created_at
    assert [(i.name, i.type) for i in listed] == [("a", "http"), ("b", "postgres")]
    assert (deleted, again, gone) == (True, False, None)


def test_credentials_round_trip_and_survive_reopening(open_store):
    data = {"host": "db", "user": "app", "password": PASSWORD}
    open_store.run(lambda s: Credentials(s, KEY).set("pg", "postgres", data))
    assert open_store.run(lambda s: Credentials(s, KEY).get("pg")) == data


def test_values_are_not_in_the_sqlite_file_nor_its_wal(tmp_path):
    store = SqliteCredentialStore.open(tmp_path / "noetl.db")
    asyncio.run(Credentials(store, KEY).set("api", "generic", {"token": PASSWORD}))
    asyncio.run(store.close())
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("noetl.db"))
    assert b"api" in raw  # the name is in clear (it is listed)...
    assert PASSWORD.encode() not in raw  # ...the value is not, in the file or its WAL


def test_values_are_sealed_in_the_database(database, open_store):
    open_store.run(lambda s: Credentials(s, KEY).set("api", "generic", {"token": PASSWORD}))
    [(name, sealed)] = database.rows("SELECT name, sealed FROM credentials")
    assert name == "api"  # the name is in clear (it is listed), the value is not
    assert PASSWORD.encode() not in (sealed.encode() if isinstance(sealed, str) else bytes(sealed))
