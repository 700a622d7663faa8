"""SQLite worker registry: the embedded mode's in-process workers, in its database file, where
`noetl workers list` (another process) reads them."""

from __future__ import annotations

import builtins
import json
import sqlite3
import time
from datetime import UTC, datetime

from noetl.errors import StoreError
from noetl.store.sqlite.connect import SqliteStore
from noetl.store.sqlite.statements import QUERIES
from noetl.store.workers import FORGOTTEN_AFTER, WorkerBeat, WorkerStatus, iso_utc, status_of


class SqliteWorkerRegistry(SqliteStore):
    """The worker registry port on SQLite. Create it with `SqliteWorkerRegistry.open(path)`."""

    what = "worker registry"

    async def beat(self, beat: WorkerBeat) -> None:
        """Record a heartbeat, stamped with this machine's clock."""
        params = (*beat.params(), time.time())
        self._write(QUERIES["worker_beat"], params, f"recording worker {beat.worker_id!r}")

    async def leave(self, worker_id: str) -> None:
        """Forget a worker that stopped cleanly."""
        self._write(QUERIES["worker_leave"], (worker_id,), f"removing worker {worker_id!r}")

    async def list(self) -> builtins.list[WorkerStatus]:
        """Every registered worker, alive or lost (long-lost ones forgotten first)."""
        now = datetime.now(UTC)
        params = (now.timestamp(), FORGOTTEN_AFTER)
        self._write(QUERIES["worker_forget"], params, "forgetting long-lost workers")
        found = []
        for row in self._query(QUERIES["worker_list"], ()):
            worker_id, pool, slots, busy, running, version, started_at, lost_after, seen = row
            beat = WorkerBeat(
                worker_id,
                pool,
                slots,
                busy,
                tuple(json.loads(running)),
                version,
                started_at,
                lost_after,
            )
            last = datetime.fromtimestamp(seen, UTC)
            found.append(WorkerStatus(beat, iso_utc(last), status_of(last, lost_after, now)))
        return found

    def _write(self, sql: str, params: tuple[object, ...], doing: str) -> None:
        try:
            self._connection().execute(sql, params)
        except sqlite3.Error as exc:
            raise StoreError(f"{doing} in {self._where} failed: {exc}") from exc
