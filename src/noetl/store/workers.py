"""The worker registry: which workers exist, what they run, whether they are still alive.

Workers say who they are in heartbeats (`WorkerBeat`): embedded workers write to the SQLite file
directly, distributed workers through the server's API (they open no port). The registry stamps
each beat with its own clock, so a worker's clock never decides whether it is alive: a worker
silent for longer than the timeout it announced (`lost_after`) is `lost`. A worker that stops
cleanly leaves the registry; a lost one leaves it once silent for `FORGOTTEN_AFTER` of its
timeouts (with the default 5-s heartbeat: lost after 15 s, forgotten after 150 s), so workers
that come and go (each restart of `host:pid` is a new id) do not pile up in the list.

Every adapter (SQLite, PostgreSQL) passes `tests/contract/test_worker_registry.py`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

ALIVE = "alive"
LOST = "lost"
MISSED_BEATS = 3  # a worker is lost after this many heartbeat intervals without a beat
FORGOTTEN_AFTER = 10  # a lost worker leaves the registry after this many of its timeouts


@dataclass(frozen=True)
class WorkerBeat:
    """What a worker says about itself in a heartbeat."""

    worker_id: str
    pool: str
    slots: int
    busy: int
    running: tuple[str, ...]  # command ids
    version: str
    started_at: str  # UTC ISO-8601
    lost_after: float  # seconds without a beat after which the worker is lost

    def params(self) -> tuple[object, ...]:
        """The beat as every adapter's `worker_beat` statement takes it, in column order, the
        running command ids as JSON (an adapter that stamps with its own clock appends it)."""
        running = json.dumps(list(self.running))
        return (
            self.worker_id,
            self.pool,
            self.slots,
            self.busy,
            running,
            self.version,
            self.started_at,
            self.lost_after,
        )


@dataclass(frozen=True)
class WorkerStatus:
    """A registered worker as the registry last heard of it."""

    beat: WorkerBeat
    last_heartbeat: str  # UTC ISO-8601, the registry's clock
    status: str  # alive | lost

    def to_dict(self) -> dict[str, Any]:
        """The `GET /api/v2/workers` form of one worker."""
        beat = self.beat
        return {
            "worker_id": beat.worker_id,
            "pool": beat.pool,
            "slots": beat.slots,
            "busy": beat.busy,
            "running": list(beat.running),
            "version": beat.version,
            "started_at": beat.started_at,
            "last_heartbeat": self.last_heartbeat,
            "status": self.status,
        }


def status_of(last_heartbeat: datetime, lost_after: float, now: datetime) -> str:
    """`alive` while the last beat is at most `lost_after` seconds old, else `lost`."""
    return ALIVE if (now - last_heartbeat).total_seconds() <= lost_after else LOST


def iso_utc(moment: datetime) -> str:
    """UTC ISO-8601 with microseconds, how the registry writes times."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


class WorkerRegistry(Protocol):
    """Where workers announce themselves (SQLite in embedded mode, PostgreSQL for a server)."""

    async def beat(self, beat: WorkerBeat) -> None:
        """Record a heartbeat (registering the worker on its first)."""
        ...

    async def leave(self, worker_id: str) -> None:
        """Forget a worker that stopped cleanly. Unknown ids are ignored."""
        ...

    async def list(self) -> list[WorkerStatus]:
        """Every registered worker, alive or lost, by pool then id (forgetting first those
        silent for `FORGOTTEN_AFTER` of their timeouts)."""
        ...

    async def close(self) -> None:
        """Release the registry's resources. Idempotent."""
        ...
