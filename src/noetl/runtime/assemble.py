"""Wiring: the one module that knows embedded from distributed.

`open_embedded` builds a whole NoETL in this process: the SQLite event store, the in-process bus,
the control plane and a worker pool, all on the running event loop.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from noetl.bus.inprocess import InProcessBus
from noetl.bus.port import Pointer
from noetl.config import Settings
from noetl.engine.definition import PlaybookDef
from noetl.runtime.children import LocalChildren
from noetl.runtime.control import ControlPlane
from noetl.runtime.workers import WorkerPool
from noetl.store.port import EventStore, ExecutionSummary
from noetl.store.results import FileResultStore
from noetl.store.sqlite import SqliteEventStore
from noetl.tools.base import Resources

EMBEDDED_POOL = "default"


@dataclass
class Runtime:
    """A running NoETL: store, bus, control plane and workers."""

    settings: Settings
    store: EventStore
    control: ControlPlane
    workers: WorkerPool
    resources: Resources
    bus: InProcessBus

    async def run(
        self,
        playbook: PlaybookDef,
        payload: Mapping[str, Any] | None = None,
        *,
        source: str | None = None,
    ) -> ExecutionSummary:
        """Start an execution and wait for its end."""
        execution_id = await self.control.start(playbook, payload, source=source)
        return await self.control.wait(execution_id)

    async def close(self) -> None:
        """Stop workers, write what is pending, close everything."""
        await self.workers.stop(drain=False)
        await self.control.close()
        await self.bus.close()
        await self.resources.aclose()
        await self.store.close()


async def open_embedded(settings: Settings, *, store: EventStore | None = None) -> Runtime:
    """Everything in this process; every playbook's pool is served by the local workers."""
    event_store = store if store is not None else SqliteEventStore.open(settings.db_path)
    control: ControlPlane | None = None

    async def dead(pointer: Pointer) -> None:
        if control is not None:
            await control.dead_letter(pointer)

    bus = InProcessBus(on_dead=dead)
    control = ControlPlane(event_store, bus, route=lambda _pool: EMBEDDED_POOL)
    results = FileResultStore(settings.db_path.parent / "results")
    resources = Resources(results=results, inline_limit=settings.inline_limit)
    workers = WorkerPool(bus, control, resources, pool=EMBEDDED_POOL, concurrency=settings.workers)
    resources.children = LocalChildren(control)
    control.on_cancel(workers.cancel)
    control.open()
    workers.start()
    return Runtime(settings, event_store, control, workers, resources, bus)
