"""Opening the SQLite file for the catalog and credential stores (same file as the event log)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

from noetl.errors import StoreError
from noetl.store.sqlite.schema import migrate
from noetl.store.sqlite.statements import QUERIES


def open_database(path: str | Path, what: str) -> sqlite3.Connection:
    """An autocommit connection to the migrated database at `path` (created when absent).

    `what` names the store in errors ("catalog", "credential store").
    """
    where = str(path)
    try:
        if where != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # Autocommit: writes open BEGIN IMMEDIATE themselves, so their reads happen under the lock.
        conn = sqlite3.connect(where, isolation_level=None)
    except (OSError, sqlite3.Error) as exc:
        raise StoreError(f"cannot open SQLite {what} at {where}: {exc}") from exc
    try:
        conn.executescript(QUERIES["pragmas"])
        migrate(conn, where)
    except sqlite3.Error as exc:
        conn.close()
        raise StoreError(f"cannot open SQLite {what} at {where}: {exc}") from exc
    except BaseException:
        conn.close()
        raise
    return conn


S = TypeVar("S", bound="SqliteStore")


class SqliteStore:
    """The base of the SQLite catalog and credential stores: one connection to the migrated
    file, reads that turn driver errors into `StoreError`s. Create one with `Cls.open(path)`."""

    what = "store"  # what errors call it ("catalog", "credential store")

    def __init__(self, conn: sqlite3.Connection, where: str) -> None:
        self._conn: sqlite3.Connection | None = conn
        self._where = where

    @classmethod
    def open(cls: type[S], path: str | Path) -> S:
        """Open (creating and migrating when needed) the database at `path`."""
        return cls(open_database(path, cls.what), str(path))

    async def close(self) -> None:
        """Close the connection. Idempotent."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _query(self, sql: str, params: Sequence[Any]) -> list[Any]:
        try:
            return self._connection().execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"reading the {self.what} in {self._where} failed: {exc}") from exc

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"the SQLite {self.what} {self._where} is closed")
        return self._conn
