"""PostgreSQL worker registry: the distributed workers, as their heartbeats reach any server."""

from __future__ import annotations

import builtins

from noetl.store.postgres.pooled import PooledStore
from noetl.store.postgres.rows import iso
from noetl.store.postgres.statements import QUERIES
from noetl.store.workers import FORGOTTEN_AFTER, WorkerBeat, WorkerStatus, status_of


class PostgresWorkerRegistry(PooledStore):
    """The worker registry port on PostgreSQL. Create it with `await ...open(dsn)`."""

    what = "worker registry"
    pool_name = "noetl-worker-registry"

    async def beat(self, beat: WorkerBeat) -> None:
        """Record a heartbeat, stamped with the database's clock."""
        doing = f"recording worker {beat.worker_id!r}"
        await self._query(QUERIES["worker_beat"], beat.params(), doing)

    async def leave(self, worker_id: str) -> None:
        """Forget a worker that stopped cleanly."""
        await self._query(QUERIES["worker_leave"], (worker_id,), f"removing worker {worker_id!r}")

    async def list(self) -> builtins.list[WorkerStatus]:
        """Every registered worker, alive or lost (judged on the database's clock; long-lost
        ones forgotten first)."""
        forget = QUERIES["worker_forget"]
        await self._query(forget, (FORGOTTEN_AFTER,), "forgetting long-lost workers")
        rows = await self._query(QUERIES["worker_list"], (), "listing workers")
        found = []
        for row in rows:
            worker_id, pool, slots, busy, running, version, started, lost_after, seen, now = row
            beat = WorkerBeat(
                worker_id, pool, slots, busy, tuple(running), version, started, lost_after
            )
            found.append(WorkerStatus(beat, iso(seen) or "", status_of(seen, lost_after, now)))
        return found
