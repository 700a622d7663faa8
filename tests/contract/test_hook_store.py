"""The hook store port against both adapters: SQLite (a real file) and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from noetl.errors import ConflictError, NotFoundError
from noetl.store.hooks import Hook, HookStore, hash_secret, new_secret
from noetl.store.postgres.hooks import PostgresHookStore
from noetl.store.sqlite.hooks import SqliteHookStore


@pytest.fixture
def open_store(database):
    """Opens a new store on the test's database each time it is called (like two processes)."""
    return database.opener(SqliteHookStore, PostgresHookStore)


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

    added, listed, first, second = open_store.run(body)
    assert (added.name, added.path, added.version) == ("deploy", "team/deploy", 2)
    assert listed == [added] and added.created_at[:2] == "20"
    assert added.accepts(secret) and not added.accepts(secret + "x") and not added.accepts("")
    assert secret not in str(added.to_dict()) and added.secret_sha256 not in str(added.to_dict())
    assert (first, second) == (True, False)
