"""The base of the PostgreSQL catalog and credential stores: a migrated database, a small pool,
and driver errors turned into `StoreError`s that never quote the DSN."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

import psycopg
from psycopg_pool import AsyncConnectionPool

from noetl.errors import StoreError
from noetl.store.postgres.connection import connect, describe, failure, open_pool
from noetl.store.postgres.schema import apply_migrations

S = TypeVar("S", bound="PooledStore")


class PooledStore:
    """A store on a pool of autocommit connections. Create one with `await Cls.open(dsn)`."""

    what = "store"  # what errors call it ("catalog", "credential store")
    pool_name = "noetl-store"  # what psycopg_pool's log lines call its pool ("noetl-catalog")

    def __init__(self, pool: AsyncConnectionPool, where: str, dsn: str) -> None:
        self._pool = pool
        self._where = where
        self._dsn = dsn  # kept only to scrub its password out of driver messages
        self._closed = False

    @classmethod
    async def open(cls: type[S], dsn: str, *, max_size: int = 4) -> S:
        """Migrate the database at `dsn` and open a pool of up to `max_size` connections."""
        where = describe(dsn)
        conn = await connect(dsn, where)
        try:
            await apply_migrations(conn, where)
        except psycopg.Error as exc:
            raise failure("migrating", where, exc, dsn) from None
        finally:
            await conn.close()
        pool = await open_pool(dsn, where, 1, max_size, name=cls.pool_name, checked=True)
        return cls(pool, where, dsn)

    async def close(self) -> None:
        """Close the pool. Idempotent."""
        if not self._closed:
            self._closed = True
            await self._pool.close()

    async def _query(self, sql: str, params: Sequence[Any], doing: str) -> list[Any]:
        """Rows of one statement (none for statements that return none)."""
        self._check_open()
        try:
            async with self._pool.connection() as conn:
                cursor = await conn.execute(sql, params)
                return await cursor.fetchall() if cursor.description else []
        except psycopg.Error as exc:
            raise failure(doing, self._where, exc, self._dsn) from None

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"the PostgreSQL {self.what} on {self._where} is closed")
