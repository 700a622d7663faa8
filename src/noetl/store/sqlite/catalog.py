"""SQLite catalog: versioned playbooks in the embedded mode's database file."""

from __future__ import annotations

import builtins
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from noetl.errors import StoreError
from noetl.store.catalog import CatalogEntry, content_hash, not_found
from noetl.store.sqlite.connect import open_database
from noetl.store.sqlite.statements import QUERIES
from noetl.store.stamping import utc_now


class SqliteCatalogStore:
    """The catalog port on SQLite. Create it with `SqliteCatalogStore.open(path)`."""

    def __init__(self, conn: sqlite3.Connection, where: str) -> None:
        self._conn: sqlite3.Connection | None = conn
        self._where = where

    @classmethod
    def open(cls, path: str | Path) -> SqliteCatalogStore:
        """Open (creating and migrating when needed) the database at `path`."""
        return cls(open_database(path, "catalog"), str(path))

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
            raise not_found(path, version, self._where)
        return _entry(rows[0])

    async def list(self) -> list[CatalogEntry]:
        """The latest version of every path, by path."""
        return [_entry(row) for row in self._query(QUERIES["catalog_list"], ())]

    async def close(self) -> None:
        """Close the connection. Idempotent."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _query(self, sql: str, params: Sequence[Any]) -> builtins.list[Any]:
        try:
            return self._connection().execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"reading the catalog in {self._where} failed: {exc}") from exc

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"the SQLite catalog {self._where} is closed")
        return self._conn


def _entry(row: Sequence[Any]) -> CatalogEntry:
    path, version, name, source, sha256, created_at = row
    return CatalogEntry(str(path), int(version), str(name), str(source), str(sha256), created_at)
