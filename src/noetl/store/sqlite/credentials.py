"""SQLite credential store: sealed (encrypted) credentials in the embedded mode's database file.

It stores and returns Fernet tokens; sealing and opening is `noetl.store.credentials.Credentials`.
"""

from __future__ import annotations

import sqlite3

from noetl.errors import StoreError
from noetl.store.credentials import CredentialInfo, SealedCredential
from noetl.store.sqlite.connect import SqliteStore
from noetl.store.sqlite.statements import QUERIES
from noetl.store.stamping import utc_now


class SqliteCredentialStore(SqliteStore):
    """The credential store port on SQLite. Create it with `SqliteCredentialStore.open(path)`."""

    what = "credential store"

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
