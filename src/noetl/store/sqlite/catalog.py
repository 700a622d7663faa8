"""SQLite catalog: versioned playbooks in the embedded mode's database file."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from noetl.errors import StoreError
from noetl.store.catalog import CatalogEntry, content_hash, not_found
from noetl.store.sqlite.connect import SqliteStore
from noetl.store.sqlite.statements import QUERIES
from noetl.store.stamping import utc_now


class SqliteCatalogStore(SqliteStore):
    """The catalog port on SQLite. Create it with `SqliteCatalogStore.open(path)`."""

    what = "catalog"

    async def register(self, path: str, name: str, source: str) -> tuple[CatalogEntry, bool]:
        """A new version when `source` differs from the latest one of `path`, else the latest."""
        conn = self._connection()
        digest = content_hash(source)
        try:
            # Under the write lock, so two registrations cannot take the same version.
            conn.execute(QUERIES["begin_write"])
            latest = conn.execute(QUERIES["catalog_latest"], (path,)).fetchone()
            if latest is not None and latest[4] == digest:
                conn.rollback()
                return _entry(latest), False
            version = 1 if latest is None else int(latest[1]) + 1
            row = (path, version, name, source, digest, utc_now())
            conn.execute(QUERIES["catalog_insert"], row)
            conn.commit()
        except sqlite3.Error as exc:
            conn.rollback()
            raise StoreError(f"registering {path!r} in {self._where} failed: {exc}") from exc
        except BaseException:
            conn.rollback()
            raise
        return _entry(row), True

    async def get(self, path: str, version: int | None = None) -> CatalogEntry:
        """One version of `path`, the latest by default."""
        if version is None:
            rows = self._query(QUERIES["catalog_latest"], (path,))
        else:
            rows = self._query(QUERIES["catalog_version"], (path, version))
        if not rows:
            raise not_found(path, version)
        return _entry(rows[0])

    async def list(self, *, limit: int | None = None, offset: int = 0) -> list[CatalogEntry]:
        """The latest version of every path, by path: a page of `limit` from `offset`."""
        page = (-1 if limit is None else limit, offset)  # SQLite: a negative LIMIT is none
        return [_entry(row) for row in self._query(QUERIES["catalog_list"], page)]


def _entry(row: Sequence[Any]) -> CatalogEntry:
    path, version, name, source, sha256, created_at = row
    return CatalogEntry(str(path), int(version), str(name), str(source), str(sha256), created_at)
