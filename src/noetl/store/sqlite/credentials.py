"""SQLite credential store: sealed (encrypted) credentials in the embedded mode's database file.

It stores and returns Fernet tokens; sealing and opening is `noetl.store.credentials.Credentials`.
"""

from __future__ import annotations

import builtins
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from noetl.errors import StoreError
from noetl.store.credentials import CredentialInfo, SealedCredential
from noetl.store.sqlite.connect import open_database
from noetl.store.sqlite.statements import QUERIES
from noetl.store.stamping import utc_now


class SqliteCredentialStore:
    """The credential store port on SQLite. Create it with `SqliteCredentialStore.open(path)`."""

    def __init__(self, conn: sqlite3.Connection, where: str) -> None:
        self._conn: sqlite3.Connection | None = conn
        self._where = where

    @classmethod
    def open(cls, path: str | Path) -> SqliteCredentialStore:
        """Open (creating and migrating when needed) the database at `path`."""
        return cls(open_database(path, "credential store"), str(path))

    async def put(self, name: str, type_: str, token: bytes) -> bool:
        """Insert or replace credential `name`; True when it was new."""
        conn = self._connection()
        now = utc_now()
        try:
            conn.execute(QUERIES["begin_write"])
            existed = conn.execute(QUERIES["credential_exists"], (name,)).fetchone() is not None
            conn.execute(QUERIES["credential_upsert"], (name, type_, token, now, now))
            conn.commit()
        except sqlite3.Error as exc:
            conn.rollback()
            raise StoreError(f"storing credential {name!r} in {self._where} failed: {exc}") from exc
        except BaseException:
            conn.rollback()
            raise
        return not existed

    async def get(self, name: str) -> SealedCredential | None:
        """The sealed credential, None when unknown."""
        rows = self._query(QUERIES["credential_get"], (name,))
        if not rows:
            return None
        name_, type_, created_at, updated_at, sealed = rows[0]
        return SealedCredential(CredentialInfo(name_, type_, created_at, updated_at), bytes(sealed))

    async def list(self) -> list[CredentialInfo]:
        """Every credential's name, type and times, by name."""
        return [CredentialInfo(*row) for row in self._query(QUERIES["credential_list"], ())]

    async def delete(self, name: str) -> bool:
        """Remove credential `name`; True when it existed."""
        try:
            cursor = self._connection().execute(QUERIES["credential_delete"], (name,))
        except sqlite3.Error as exc:
            raise StoreError(
                f"deleting credential {name!r} in {self._where} failed: {exc}"
            ) from exc
        return cursor.rowcount > 0

    async def close(self) -> None:
        """Close the connection. Idempotent."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _query(self, sql: str, params: Sequence[Any]) -> builtins.list[Any]:
        try:
            return self._connection().execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"reading credentials in {self._where} failed: {exc}") from exc

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"the SQLite credential store {self._where} is closed")
        return self._conn
