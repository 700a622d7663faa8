"""The catalog port against both adapters: SQLite (a real file) and PostgreSQL (`pg_dsn`)."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import pytest

from noetl.errors import NotFoundError
from noetl.store.catalog import CatalogStore
from noetl.store.postgres.catalog import PostgresCatalogStore
from noetl.store.sqlite import SqliteCatalogStore

V1 = "apiVersion: noetl.io/v2\nkind: Playbook\nmetadata: {name: a}\n# v1\n"
V2 = V1.replace("# v1", "# v2")


@pytest.fixture
def open_catalog(database):
    """Opens a new store on the test's database each time it is called (like two processes)."""
    return database.opener(SqliteCatalogStore, PostgresCatalogStore)


def test_first_registration_is_version_1_with_the_content_hash(open_catalog):
    entry, created = open_catalog.run(lambda s: s.register("team/a", "a", V1))
    assert created is True
    assert (entry.path, entry.version, entry.name, entry.source) == ("team/a", 1, "a", V1)
    assert entry.sha256 == hashlib.sha256(V1.encode()).hexdigest()
    assert entry.created_at[:2] == "20" and "T" in entry.created_at


def test_identical_content_returns_the_existing_version(open_catalog):
    async def body(store: CatalogStore) -> Any:
        first, _ = await store.register("a", "a", V1)
        again, created = await store.register("a", "a", V1)
        return first, again, created, await store.list()

    first, again, created, listed = open_catalog.run(body)
    assert created is False
    assert again == first
    assert [(e.path, e.version) for e in listed] == [("a", 1)]


def test_changed_content_gets_the_next_version_and_old_versions_stay(open_catalog):
    async def body(store: CatalogStore) -> Any:
        await store.register("a", "a", V1)
        second, created = await store.register("a", "a", V2)
        return second, created, await store.get("a"), await store.get("a", 1)

    second, created, latest, first = open_catalog.run(body)
    assert (second.version, created) == (2, True)
    assert latest == second and latest.source == V2
    assert first.source == V1


def test_content_equal_to_an_older_version_becomes_the_next_version(open_catalog):
    # Only the latest version is compared: re-registering v1's text makes it the latest again,
    # so `noetl run PATH` runs what was registered last.
    async def body(store: CatalogStore) -> Any:
        for source in (V1, V2, V1):
            await store.register("a", "a", source)
        return await store.get("a")

    latest = open_catalog.run(body)
    assert (latest.version, latest.source) == (3, V1)


def test_list_gives_the_latest_version_of_every_path_by_path(open_catalog):
    async def body(store: CatalogStore) -> Any:
        await store.register("b", "b", V1)
        await store.register("a", "a", V1)
        await store.register("b", "b", V2)
        return await store.list()

    listed = open_catalog.run(body)
    assert [(e.path, e.version, e.source) for e in listed] == [("a", 1, V1), ("b", 2, V2)]


def test_list_pages_by_limit_and_offset_in_path_order(open_catalog):
    async def body(store: CatalogStore) -> Any:
        for path in ("e", "c", "a", "d", "b"):
            await store.register(path, path, V1)
        await store.register("c", "c", V2)  # a page holds the latest version, one per path
        pages = [await store.list(limit=2, offset=offset) for offset in (0, 2, 4, 6)]
        return pages, await store.list(offset=3), await store.list(limit=10)

    pages, rest, whole = open_catalog.run(body)
    assert [[(e.path, e.version) for e in page] for page in pages] == [
        [("a", 1), ("b", 1)],
        [("c", 2), ("d", 1)],
        [("e", 1)],
        [],
    ]
    assert [e.path for e in rest] == ["d", "e"]
    assert [e.path for e in whole] == ["a", "b", "c", "d", "e"]


def test_unknown_path_or_version_is_not_found_naming_it(open_catalog):
    async def missing_path(store: CatalogStore) -> Any:
        return await store.get("no/such")

    with pytest.raises(NotFoundError, match="no playbook at path 'no/such'"):
        open_catalog.run(missing_path)

    async def missing_version(store: CatalogStore) -> Any:
        await store.register("a", "a", V1)
        return await store.get("a", 7)

    with pytest.raises(NotFoundError, match="no version 7 of playbook 'a'"):
        open_catalog.run(missing_version)


def test_entries_survive_reopening(open_catalog):
    open_catalog.run(lambda s: s.register("a", "a", V1))
    assert open_catalog.run(lambda s: s.get("a")).source == V1


def test_concurrent_registrations_from_two_stores_take_distinct_versions(open_catalog):
    sources = [V1.replace("# v1", f"# change {i}") for i in range(8)]

    async def main() -> list[int]:
        first, second = await open_catalog(), await open_catalog()
        try:
            stores = [first, second] * 4
            done = await asyncio.gather(
                *(s.register("a", "a", src) for s, src in zip(stores, sources, strict=True))
            )
            return sorted(entry.version for entry, _ in done)
        finally:
            await first.close()
            await second.close()

    assert asyncio.run(main()) == list(range(1, 9))


def test_a_declared_metadata_version_is_honoured_or_refused(open_catalog):
    from noetl.errors import ConflictError
    from noetl.store.catalog import register_declared

    async def body(store: CatalogStore) -> Any:
        first, created = await register_declared(store, "v", "a", V1, 1)
        again, created_again = await register_declared(store, "v", "a", V1, 1)  # unchanged
        with pytest.raises(ConflictError, match=r"set metadata\.version to 2"):
            await register_declared(store, "v", "a", V2, 1)  # new content is version 2
        with pytest.raises(ConflictError, match="version 1 of 'w'"):
            await register_declared(store, "w", "a", V1, 3)  # a new path starts at 1
        versions = [e.version for e in await store.list()]
        second, _ = await register_declared(store, "v", "a", V2, 2)
        return first.version, created, again.version, created_again, versions, second.version

    assert open_catalog.run(body) == (1, True, 1, False, [1], 2)
