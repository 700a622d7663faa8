"""PostgreSQL result store: large results in the database every server replica shares."""

from __future__ import annotations

from typing import Any

import psycopg

from noetl.errors import NotFoundError
from noetl.store.postgres.connection import failure
from noetl.store.postgres.pooled import PooledStore
from noetl.store.postgres.statements import QUERIES
from noetl.store.results import (
    JSON,
    KeyedResults,
    StoredResult,
    content_key,
    make_ref,
    verified,
)


class PostgresResultStore(KeyedResults, PooledStore):
    """The result store port on PostgreSQL (refs stamped `db`). Open with `await .open(dsn)`."""

    what = "result store"
    pool_name = "noetl-result-store"
    name = "db"

    async def put(self, execution_id: str, body: bytes, content_type: str = JSON) -> dict[str, Any]:
        """Store `body` once under `<execution_id>/<sha256>`; its ResultRef wrapper."""
        key, sha = content_key(execution_id, body)
        params = (key, execution_id, content_type, len(body), sha, body)
        await self._query(QUERIES["result_insert"], params, f"storing result {key}")
        return make_ref(self.name, key, body, sha, content_type)

    async def usage(self, execution_id: str) -> int:
        """Bytes stored for the execution so far."""
        rows = await self._query(QUERIES["result_usage"], (execution_id,), "sizing results")
        return int(rows[0][0])

    async def read(self, key: str) -> StoredResult:
        """The stored body and its content type, checked against its sha256."""
        self._check_open()
        try:
            async with self._pool.connection() as conn:
                # Binary results: the body comes as its bytes, not as twice as many hex digits.
                cursor = await conn.execute(QUERIES["result_get"], (key,), binary=True)
                row = await cursor.fetchone()
        except psycopg.Error as exc:
            raise failure(f"reading result {key}", self._where, exc, self._dsn) from None
        if row is None:
            raise NotFoundError(f"result {key} not found")
        content_type, sha, body = row
        return StoredResult(verified(key, bytes(body), sha), str(content_type))
