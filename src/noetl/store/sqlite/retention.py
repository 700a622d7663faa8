"""SQLite retention: remove finished executions from the embedded mode's database."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection

from noetl.errors import StoreError
from noetl.store.retention import FINISHED, PruneReport, prune_in_batches
from noetl.store.sqlite.connect import SqliteStore
from noetl.store.sqlite.statements import QUERIES


class SqliteRetention(SqliteStore):
    """The retention port on SQLite. Create it with `SqliteRetention.open(path)`."""

    what = "event store"

    async def prune(
        self,
        *,
        finished_before: str,
        statuses: Collection[str] = FINISHED,
        dry_run: bool = False,
        batch: int = 200,
        chunk: int = 5000,
    ) -> PruneReport:
        """See `noetl.store.retention.Retention.prune`."""
        wanted = json.dumps(sorted(statuses))

        async def candidates(size: int) -> list[str]:
            params = (finished_before, wanted, size)
            return [row[0] for row in self._query(QUERIES["prune_candidates"], params)]

        async def count(query: str, ids: list[str]) -> int:
            return int(self._query(QUERIES[query], (json.dumps(ids),))[0][0])

        async def remove(ids: list[str], report: PruneReport) -> None:
            self._remove(json.dumps(ids), chunk, report)

        return await prune_in_batches(candidates, count, remove, dry_run=dry_run, batch=batch)

    def _remove(self, listed: str, chunk: int, report: PruneReport) -> None:
        conn = self._connection()
        try:
            while True:
                removed = conn.execute(QUERIES["prune_events"], (listed, chunk)).rowcount
                report.events += removed
                if removed < chunk:
                    break
            report.claims += conn.execute(QUERIES["prune_claims"], (listed,)).rowcount
            report.results += conn.execute(QUERIES["prune_results"], (listed,)).rowcount
            conn.execute(QUERIES["prune_executions"], (listed,))
        except sqlite3.Error as exc:
            raise StoreError(f"pruning {self._where} failed: {exc}") from exc
