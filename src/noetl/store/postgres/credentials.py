"""PostgreSQL credential store: sealed (encrypted) credentials shared by servers and workers.

It stores and returns Fernet tokens; sealing and opening is `noetl.store.credentials.Credentials`.
"""

from __future__ import annotations

import builtins

import psycopg

from noetl.store.credentials import CredentialInfo, SealedCredential
from noetl.store.postgres.connection import failure
from noetl.store.postgres.pooled import PooledStore
from noetl.store.postgres.rows import iso
from noetl.store.postgres.statements import QUERIES


class PostgresCredentialStore(PooledStore):
    """The credential store port on PostgreSQL. Create it with `await ...open(dsn)`."""

    what = "credential store"
    pool_name = "noetl-credential-store"

    async def put(self, name: str, type_: str, token: bytes) -> bool:
        """Insert or replace credential `name`; True when it was new."""
        params = (name, type_, token)
        rows = await self._query(QUERIES["credential_upsert"], params, f"storing {name!r}")
        return bool(rows[0][0])

    async def get(self, name: str) -> SealedCredential | None:
        """The sealed credential, None when unknown."""
        rows = await self._query(QUERIES["credential_get"], (name,), "reading credentials")
        if not rows:
            return None
        name_, type_, created_at, updated_at, sealed = rows[0]
        info = CredentialInfo(name_, type_, iso(created_at) or "", iso(updated_at) or "")
        return SealedCredential(info, bytes(sealed))

    async def list(self) -> builtins.list[CredentialInfo]:
        """Every credential's name, type and times, by name."""
        rows = await self._query(QUERIES["credential_list"], (), "listing credentials")
        return [
            CredentialInfo(name, type_, iso(created) or "", iso(updated) or "")
            for name, type_, created, updated in rows
        ]

    async def delete(self, name: str) -> bool:
        """Remove credential `name`; True when it existed."""
        self._check_open()
        try:
            async with self._pool.connection() as conn:
                cursor = await conn.execute(QUERIES["credential_delete"], (name,))
                return cursor.rowcount > 0
        except psycopg.Error as exc:
            raise failure(f"deleting {name!r}", self._where, exc, self._dsn) from None
