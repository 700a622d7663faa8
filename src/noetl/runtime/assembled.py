"""The assembled NoETL: what `runtime/assemble.py` builds and hands back.

`Runtime` is a whole NoETL in one process, `ServerRuntime` the server process, `WorkerRuntime`
a worker process, `Stores` what a command reads and writes outside an execution, `ServerStores`
what a server keeps in its database. Each holds its parts and knows how to close them; which
adapters fill them (embedded or distributed) is `assemble.py`'s choice alone.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from noetl.bus.inprocess import InProcessBus
from noetl.bus.port import CommandBus
from noetl.config import Settings
from noetl.engine.definition import PlaybookDef
from noetl.runtime.control import ControlPlane
from noetl.store.catalog import CatalogStore
from noetl.store.credentials import Credentials, CredentialStore
from noetl.store.port import EventStore, ExecutionSummary
from noetl.store.results import KeyedResultStore, ResultStore
from noetl.store.schedules import ScheduleStore
from noetl.store.workers import WorkerRegistry
from noetl.tools.base import Resources
from noetl.worker.loop import WorkerPool
from noetl.worker.presence import Presence
from noetl.worker.source import CommandSource

if TYPE_CHECKING:  # what only a server holds: no part of `noetl run`'s cold start
    from noetl.runtime.admin import HookAdmin, ScheduleAdmin
    from noetl.runtime.scheduler import Scheduler
    from noetl.store.hooks import HookStore
    from noetl.store.retention import Retention


# eq=False, repr=False: a holder of live parts, compared by identity and never printed; each
# method @dataclass generates is compiled when `noetl run` starts (benchmarks/README.md).
@dataclass(eq=False, repr=False)
class Runtime:
    """A running NoETL: store, bus, control plane and workers."""

    settings: Settings
    store: EventStore
    control: ControlPlane
    workers: WorkerPool
    resources: Resources
    bus: InProcessBus
    catalog: CatalogStore
    credentials: CredentialStore
    schedules: ScheduleStore  # what `noetl scheduler` fires
    presence: Presence  # the local workers' heartbeat into the registry

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
        await self.presence.stop()
        await self.presence.registry.close()
        await self.control.close()
        await self.bus.close()
        await self.resources.aclose()
        await self.catalog.close()
        await self.credentials.close()
        await self.schedules.close()
        await self.store.close()


@dataclass(eq=False, repr=False)
class Stores:
    """What a command reads and writes outside an execution: the event log's read side, the
    catalog, the result store, the credentials, the hooks and the schedules, of this machine or
    of a server."""

    events: Any  # the read side of an EventStore: SqliteEventStore | RemoteEventLog
    catalog: Any  # noetl.store.catalog.CatalogStore: SqliteCatalogStore | RemoteCatalog
    results: ResultStore
    credentials: Any  # Credentials | RemoteCredentials
    hooks: HookAdmin  # LocalHooks | ServerClient
    schedules: ScheduleAdmin  # LocalSchedules | ServerClient
    opened: contextlib.AsyncExitStack

    async def close(self) -> None:
        """Close what was opened."""
        await self.opened.aclose()


@dataclass(eq=False, repr=False)
class ServerStores:
    """The stores of a server, all in its database."""

    events: EventStore
    catalog: CatalogStore
    sealed: CredentialStore
    results: KeyedResultStore
    schedules: ScheduleStore
    hooks: HookStore
    retention: Retention
    registry: WorkerRegistry


@dataclass(eq=False, repr=False)
class ServerRuntime:
    """What the server process runs: the event store, the catalog, the credentials (sealed with
    the server's NOETL_SECRET_KEY, served to workers over the API), the result store (large
    results, in the same database), the bus and the control plane."""

    settings: Settings
    store: EventStore
    catalog: CatalogStore
    bus: CommandBus
    control: ControlPlane
    credentials: Credentials
    results: KeyedResultStore  # large results, shared by every worker through the API
    schedules: ScheduleStore
    hooks: HookStore
    retention: Retention
    registry: WorkerRegistry  # the workers' heartbeats, in the same database
    scheduler: Scheduler | None = None
    pruner: asyncio.Task[None] | None = None  # automatic pruning (settings.prune_after)
    workers: WorkerPool | None = None  # in-process workers, when there is no NATS

    async def close(self) -> None:
        """Stop the scheduler and the in-process workers, write what is pending, close the bus
        and the stores."""
        if self.scheduler is not None:
            await self.scheduler.stop()
        if self.pruner is not None:
            self.pruner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.pruner
        if self.workers is not None:
            await self.workers.stop(drain=False)
            await self.workers.resources.aclose()
        await self.control.close()
        await self.bus.close()
        await self.catalog.close()
        await self.results.close()
        await self.schedules.close()
        await self.hooks.close()
        await self.retention.close()
        await self.registry.close()
        await self.credentials.store.close()
        await self.store.close()


@dataclass(eq=False, repr=False)
class WorkerRuntime:
    """A worker process: a pool of workers on the NATS bus, claiming through the server."""

    settings: Settings
    bus: CommandBus
    source: CommandSource
    workers: WorkerPool
    resources: Resources
    presence: Presence

    async def close(self, *, drain: bool = True) -> None:
        """Stop taking work; with `drain`, running commands finish and report first."""
        await self.workers.stop(drain=drain)
        await self.presence.stop()
        await self.bus.close()
        await self.source.close()
        await self.resources.aclose()
