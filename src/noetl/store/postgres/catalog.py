"""PostgreSQL catalog: versioned playbooks shared by every server replica."""

from __future__ import annotations

import builtins
from typing import Any

import psycopg

from noetl.store.catalog import CatalogEntry, content_hash, not_found
from noetl.store.postgres.connection import failure
from noetl.store.postgres.pooled import PooledStore
from noetl.store.postgres.rows import iso
from noetl.store.postgres.statements import QUERIES


class PostgresCatalogStore(PooledStore):
    """The catalog port on PostgreSQL. Create it with `await PostgresCatalogStore.open(dsn)`."""

    what = "catalog"
    pool_name = "noetl-catalog"

    async def register(self, path: str, name: str, source: str) -> tuple[CatalogEntry, bool]:
        """A new version when `source` differs from the latest one of `path`, else the latest."""
        self._check_open()
        digest = content_hash(source)
        try:
            async with self._pool.connection() as conn, conn.transaction():
                # Per-path lock: concurrent registrations (two replicas) take versions in turn.
                await conn.execute(QUERIES["catalog_lock"], (path,))
                cursor = await conn.execute(QUERIES["catalog_latest"], (path,))
                latest = await cursor.fetchone()
                if latest is not None and latest[4] == digest:
                    return _entry(latest), False
                version = 1 if latest is None else int(latest[1]) + 1
                params = (path, version, name, source, digest)
                cursor = await conn.execute(QUERIES["catalog_insert"], params)
                row = await cursor.fetchone()
        except psycopg.Error as exc:
            raise failure(f"registering {path!r}", self._where, exc, self._dsn) from None
        assert row is not None  # INSERT ... RETURNING gives its row
        return _entry(row), True

    async def get(self, path: str, version: int | None = None) -> CatalogEntry:
        """One version of `path`, the latest by default."""
        if version is None:
            rows = await self._query(QUERIES["catalog_latest"], (path,), "reading the catalog")
        else:
            params = (path, version)
            rows = await self._query(QUERIES["catalog_version"], params, "reading the catalog")
        if not rows:
            raise not_found(path, version)
        return _entry(rows[0])

    async def list(
        self, *, limit: int | None = None, offset: int = 0
    ) -> builtins.list[CatalogEntry]:
        """The latest version of every path, by path: a page of `limit` from `offset`."""
        page = (limit, offset)  # PostgreSQL: LIMIT NULL is none
        rows = await self._query(QUERIES["catalog_list"], page, "listing the catalog")
        return [_entry(row) for row in rows]


def _entry(row: tuple[Any, ...]) -> CatalogEntry:
    path, version, name, source, sha256, created_at = row
    return CatalogEntry(path, int(version), name, source, sha256, iso(created_at) or "")
