"""A worker pool's heartbeat: who it is and what it runs, told to the worker registry.

Embedded workers beat into the SQLite file, distributed ones through the server's API (the
registry adapter decides which). A beat that fails is logged and the next one tries again: the
registry marks the worker lost only after `MISSED_BEATS` intervals without one. A clean stop
leaves the registry.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

from noetl import __version__
from noetl.store.workers import MISSED_BEATS, WorkerBeat, WorkerRegistry
from noetl.worker.loop import WorkerPool

log = logging.getLogger(__name__)


class Presence:
    """Beats every `every` seconds for `pool` until stopped."""

    def __init__(self, registry: WorkerRegistry, pool: WorkerPool, *, every: float) -> None:
        self.registry = registry
        self.pool = pool
        self.every = every
        self.started_at = datetime.now(UTC).isoformat(timespec="microseconds")
        self._beating: asyncio.Task[None] | None = None

    def beat_now(self) -> WorkerBeat:
        """What the pool says about itself right now."""
        running = self.pool.running()
        return WorkerBeat(
            worker_id=self.pool.worker_id,
            pool=self.pool.pool,
            slots=self.pool.concurrency,
            busy=self.pool.busy(),
            running=tuple(running),
            version=__version__,
            started_at=self.started_at,
            lost_after=self.every * MISSED_BEATS,
        )

    async def start(self) -> None:
        """Register (the first beat is awaited, so the worker is listed before it takes work),
        then beat. A registry that cannot be reached yet (a server starting) is tried again at
        the next beat, as the worker's claims and reports wait for it too."""
        await self._beat()
        self._beating = asyncio.get_running_loop().create_task(self._beat_forever())

    async def stop(self) -> None:
        """Stop beating and leave the registry."""
        if self._beating is not None:
            self._beating.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._beating
            self._beating = None
        try:
            await self.registry.leave(self.pool.worker_id)
        except Exception as exc:  # it will show as lost instead
            log.warning("worker %s could not leave the registry: %s", self.pool.worker_id, exc)

    async def _beat_forever(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            await self._beat()

    async def _beat(self) -> None:
        try:
            await self.registry.beat(self.beat_now())
        except Exception as exc:  # the next beat may get through
            log.warning("worker %s could not send a heartbeat: %s", self.pool.worker_id, exc)
