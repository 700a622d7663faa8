"""PostgreSQL retention: remove finished executions in batches that leave appends alone."""

from __future__ import annotations

from collections.abc import Collection

import psycopg

from noetl.store.postgres.connection import failure
from noetl.store.postgres.pooled import PooledStore
from noetl.store.postgres.statements import QUERIES
from noetl.store.retention import FINISHED, PruneReport, prune_in_batches


class PostgresRetention(PooledStore):
    """The retention port on PostgreSQL. Create it with `await PostgresRetention.open(dsn)`."""

    what = "event store"
    pool_name = "noetl-retention"

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
        wanted = sorted(statuses)

        async def candidates(size: int) -> list[str]:
            params = (finished_before, wanted, size)
            rows = await self._query(QUERIES["prune_candidates"], params, "pruning")
            return [row[0] for row in rows]

        async def remove(ids: list[str], report: PruneReport) -> None:
            await self._remove(ids, chunk, report)

        return await prune_in_batches(candidates, self._count, remove, dry_run=dry_run, batch=batch)

    async def _count(self, query: str, ids: list[str]) -> int:
        rows = await self._query(QUERIES[query], (ids,), "counting what to prune")
        return int(rows[0][0])

    async def _remove(self, ids: list[str], chunk: int, report: PruneReport) -> None:
        """Each statement is its own (autocommit) transaction, the execution rows last."""
        self._check_open()
        try:
            async with self._pool.connection() as conn:
                while True:
                    cursor = await conn.execute(QUERIES["prune_events"], (ids, chunk))
                    report.events += cursor.rowcount
                    if cursor.rowcount < chunk:
                        break
                report.claims += (await conn.execute(QUERIES["prune_claims"], (ids,))).rowcount
                report.results += (await conn.execute(QUERIES["prune_results"], (ids,))).rowcount
                await conn.execute(QUERIES["prune_executions"], (ids,))
        except psycopg.Error as exc:
            raise failure("pruning", self._where, exc, self._dsn) from None
