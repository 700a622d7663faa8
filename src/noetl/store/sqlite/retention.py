"""SQLite retention: remove finished executions from the embedded mode's database."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection

from noetl.errors import StoreError
from noetl.store.retention import FINISHED, PruneReport
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
        report = PruneReport()
        wanted = json.dumps(sorted(statuses))
        seen: set[str] = set()
        while True:
            rows = self._query(
                QUERIES["prune_candidates"], (finished_before, wanted, batch + len(seen))
            )
            ids = [row[0] for row in rows if row[0] not in seen]
            if not ids:
                return report
            listed = json.dumps(ids)
            if dry_run:
                seen.update(ids)  # nothing is removed: page past what was counted
                report.events += self._count("prune_count_events", listed)
                report.claims += self._count("prune_count_claims", listed)
                report.results += self._count("prune_count_results", listed)
            else:
                self._remove(listed, chunk, report)
            report.executions += len(ids)
            report.execution_ids.extend(ids)

    def _count(self, query: str, listed: str) -> int:
        return int(self._query(QUERIES[query], (listed,))[0][0])

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
