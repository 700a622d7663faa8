"""SQLite result store: large results in the database file of a server that runs on SQLite."""

from __future__ import annotations

import sqlite3
from typing import Any

from noetl.errors import NotFoundError, StoreError
from noetl.store.results import (
    JSON,
    KeyedResults,
    StoredResult,
    content_key,
    make_ref,
    verified,
)
from noetl.store.sqlite.connect import SqliteStore
from noetl.store.sqlite.statements import QUERIES
from noetl.store.stamping import utc_now


class SqliteResultStore(KeyedResults, SqliteStore):
    """The result store port on SQLite (refs stamped `db`). Create it with `.open(path)`."""

    what = "result store"
    name = "db"

    async def put(self, execution_id: str, body: bytes, content_type: str = JSON) -> dict[str, Any]:
        """Store `body` once under `<execution_id>/<sha256>`; its ResultRef wrapper."""
        key, sha = content_key(execution_id, body)
        row = (key, execution_id, content_type, len(body), sha, body, utc_now())
        try:
            self._connection().execute(QUERIES["result_insert"], row)
        except sqlite3.Error as exc:
            raise StoreError(f"storing result {key} in {self._where} failed: {exc}") from exc
        return make_ref(self.name, key, body, sha, content_type)

    async def usage(self, execution_id: str) -> int:
        """Bytes stored for the execution so far."""
        return int(self._query(QUERIES["result_usage"], (execution_id,))[0][0])

    async def read(self, key: str) -> StoredResult:
        """The stored body and its content type, checked against its sha256."""
        rows = self._query(QUERIES["result_get"], (key,))
        if not rows:
            raise NotFoundError(f"result {key} not found")
        content_type, sha, body = rows[0]
        return StoredResult(verified(key, bytes(body), sha), str(content_type))
