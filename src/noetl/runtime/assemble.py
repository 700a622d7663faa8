"""Wiring: the one module that knows embedded from distributed.

`open_embedded` builds a whole NoETL in this process: the SQLite event store, the in-process bus,
the control plane and a worker pool, all on the running event loop. `open_stores` opens what a
command reads and writes outside an execution, of this machine or of a server; `open_server`
and `open_worker` build the processes of the distributed mode. What they return is declared in
`runtime/assembled.py`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, TypeVar

from noetl.bus.inprocess import InProcessBus
from noetl.bus.port import CommandBus, Pointer
from noetl.config import Settings
from noetl.dsl import budget
from noetl.errors import ConfigError, NotFoundError
from noetl.runtime.assembled import Runtime, ServerRuntime, ServerStores, Stores, WorkerRuntime
from noetl.runtime.children import LocalChildren
from noetl.runtime.control import ControlPlane
from noetl.runtime.reads import ControlReads
from noetl.store.catalog import CatalogStore
from noetl.store.credentials import Credentials
from noetl.store.port import EventStore
from noetl.store.results import FileResultStore, ResultStore
from noetl.store.sqlite import (
    SqliteCatalogStore,
    SqliteCredentialStore,
    SqliteEventStore,
    SqliteResultStore,
)
from noetl.store.sqlite.schedules import SqliteScheduleStore
from noetl.store.sqlite.workers import SqliteWorkerRegistry
from noetl.tools.base import Resources
from noetl.tools.credentials import MaskingCredentials
from noetl.worker.loop import WorkerPool
from noetl.worker.presence import Presence

if TYPE_CHECKING:  # imported where it runs: cron parsing is no part of `noetl run`'s cold start
    from noetl.runtime.scheduler import Scheduler

EMBEDDED_POOL = "default"
REPLICA_SWEEP = 30.0  # seconds between a server's looks for executions other replicas ended


async def open_embedded(settings: Settings, *, store: EventStore | None = None) -> Runtime:
    """Everything in this process; every playbook's pool is served by the local workers."""
    budget.configure(settings)
    event_store = store if store is not None else SqliteEventStore.open(settings.db_path)
    dead_letters = _DeadLetters()
    bus = InProcessBus(ack_wait=settings.ack_wait, on_dead=dead_letters)
    results = FileResultStore(settings.db_path.parent / "results")
    control = ControlPlane(
        event_store,
        bus,
        route=lambda _pool: EMBEDDED_POOL,
        lease=settings.ack_wait,
        worker_id=settings.worker_id,
        reads=ControlReads(results, settings.control_read_limit),
        local_files=True,
    )
    dead_letters.control = control
    catalog = SqliteCatalogStore.open(settings.db_path)
    sealed = SqliteCredentialStore.open(settings.db_path)
    # Credentials are decrypted on use, so a run that uses none needs no NOETL_SECRET_KEY.
    credentials = Credentials(sealed, settings.secret_key)
    workers = await _local_workers(
        settings, control, catalog, credentials, results, settings.workers
    )
    control.open()
    workers.start()
    schedules = SqliteScheduleStore.open(settings.db_path)
    # The in-process workers are listed like distributed ones: `noetl workers list` reads the file.
    presence = Presence(
        SqliteWorkerRegistry.open(settings.db_path), workers, every=settings.heartbeat
    )
    await presence.start()
    return Runtime(
        settings,
        event_store,
        control,
        workers,
        workers.resources,
        bus,
        catalog,
        sealed,
        schedules,
        presence,
    )


async def open_stores(
    settings: Settings, server: str | None = None, *, create: bool = False
) -> Stores:
    """The stores of the server at URL `server` (through its API: the distributed extra), else
    those of the SQLite file `settings.db_path`.

    A missing database file is a NotFoundError (nothing is created) unless `create`.
    """
    if server is not None:
        return _server_stores(settings, server)
    path = settings.db_path
    if not create and not path.is_file():
        raise NotFoundError(f"no NoETL database at {path} (nothing stored there yet; or pass --db)")
    # Imported here: schedules bring cron parsing, which `noetl run` does not need (cold start).
    from noetl.runtime.admin import LocalHooks, LocalSchedules
    from noetl.store.sqlite.hooks import SqliteHookStore

    opened = contextlib.AsyncExitStack()
    events = _kept(opened, SqliteEventStore.open(path))
    catalog = _kept(opened, SqliteCatalogStore.open(path))
    sealed = _kept(opened, SqliteCredentialStore.open(path))
    hooks = _kept(opened, SqliteHookStore.open(path))
    schedules = _kept(opened, SqliteScheduleStore.open(path))
    return Stores(
        events=events,
        catalog=catalog,
        results=FileResultStore(path.parent / "results"),
        credentials=Credentials(sealed, settings.secret_key),
        hooks=LocalHooks(hooks, catalog),
        schedules=LocalSchedules(schedules, catalog),
        opened=opened,
    )


def _server_stores(settings: Settings, server: str) -> Stores:
    """The stores of the server at URL `server`, one API client for all of them."""
    from noetl.client.catalog import RemoteCatalog
    from noetl.client.credentials import RemoteCredentials
    from noetl.client.event_log import RemoteEventLog
    from noetl.client.results import RemoteResultStore
    from noetl.client.transport import ServerClient

    opened = contextlib.AsyncExitStack()
    client = ServerClient(server, token=settings.api_token)
    opened.push_async_callback(client.aclose)
    return Stores(
        events=RemoteEventLog(client),
        catalog=RemoteCatalog(client),
        # No retrying while the server is away: a person is waiting for the answer.
        results=RemoteResultStore(client, patience=0),
        credentials=RemoteCredentials(client),
        hooks=client,  # the API's hooks and schedules calls are `HookAdmin`'s and `ScheduleAdmin`'s
        schedules=client,
        opened=opened,
    )


# -- distributed mode ---------------------------------------------------------------------------
# Adapters of the distributed mode (psycopg, nats, aiohttp) are imported inside the functions that
# use them: they come with the `distributed` extra, and `noetl run` must work without it.


async def open_server(settings: Settings, *, local_workers: int = 0) -> ServerRuntime:
    """The control plane of a server, with its executions resumed from the log.

    PostgreSQL when `settings.pg_dsn` is set (migrations are applied on open), else the SQLite
    file of `settings.db_path`; NATS JetStream when `settings.nats_url` is set, else an
    in-process bus served by `local_workers` workers inside the server (`noetl server start`
    without `--nats`), or by none (commands are then claimed through the API only, which is what
    the API tests do). When any part fails to open, the parts opened before it are closed again.
    """
    budget.configure(settings)
    async with contextlib.AsyncExitStack() as opened:
        local = 0 if settings.nats_url else local_workers
        runtime = await _assemble_server(settings, opened, local_pool=bool(local))
        if local:
            runtime.workers = await _local_workers(
                settings,
                runtime.control,
                runtime.catalog,
                runtime.credentials,
                runtime.results,
                local,
            )
            runtime.workers.start()
        opened.pop_all()  # opened for good: the runtime closes them
        return runtime


async def _local_workers(
    settings: Settings,
    control: ControlPlane,
    catalog: CatalogStore,
    credentials: Credentials,
    results: ResultStore,
    count: int,
) -> WorkerPool:
    """`count` workers in this process, on the control plane's in-process bus and sharing its
    stores (the embedded mode, and a server without NATS); not started yet."""
    resources = Resources()
    resources.credentials = MaskingCredentials(credentials, resources.masks)
    resources.children = LocalChildren(control, catalog)
    workers = WorkerPool(
        control.bus,
        control,
        resources,
        results=results,
        inline_limit=settings.inline_limit,
        pool=EMBEDDED_POOL,
        concurrency=count,
        heartbeat=settings.ack_wait / 3,
        worker_id=settings.worker_id,
    )
    await control.bus.on_cancel(workers.cancel)  # the control plane announces cancels on it
    return workers


async def _assemble_server(
    settings: Settings, opened: contextlib.AsyncExitStack, *, local_pool: bool = False
) -> ServerRuntime:
    """A server's stores, bus, control plane (its executions resumed), scheduler and pruner,
    each one's closing pushed on `opened` as soon as it is open."""
    stores = await _open_stores(settings, opened)
    credentials = Credentials(stores.sealed, settings.secret_key)  # the key is checked on first use
    dead_letters = _DeadLetters()
    bus = await _open_bus(settings, opened, dead_letters)
    # In-process workers serve one pool: every playbook's commands go to it.
    route = (lambda _pool: EMBEDDED_POOL) if local_pool else None
    control = await _open_control(settings, opened, stores, bus, route)
    dead_letters.control = control
    runtime = ServerRuntime(
        settings,
        stores.events,
        stores.catalog,
        bus,
        control,
        credentials,
        stores.results,
        stores.schedules,
        stores.hooks,
        stores.retention,
        stores.registry,
        _start_scheduler(opened, stores, control),
    )
    if settings.prune_after:
        # Imported here, as the scheduler: no part of `noetl run`'s cold start.
        from noetl.runtime.retention import start_pruner

        runtime.pruner = start_pruner(stores.retention, settings.prune_after)
    return runtime


class _DeadLetters:
    """Where the bus sends the pointers it gave up on: the control plane's `dead_letter` (the
    step fails). The bus is opened first (the control plane publishes on it), so the control
    plane is set here once it is made."""

    control: ControlPlane | None = None

    async def __call__(self, pointer: Pointer) -> None:
        if self.control is not None:
            await self.control.dead_letter(pointer)


async def _open_bus(
    settings: Settings, opened: contextlib.AsyncExitStack, dead_letters: _DeadLetters
) -> CommandBus:
    """NATS JetStream when `settings.nats_url` is set, else an in-process bus."""
    bus: CommandBus
    if settings.nats_url:
        from noetl.bus.nats import NatsBus

        bus = await NatsBus.connect(
            settings.nats_url, ack_wait=settings.ack_wait, on_dead=dead_letters
        )
    else:
        bus = InProcessBus(ack_wait=settings.ack_wait, on_dead=dead_letters)
    return _kept(opened, bus)


async def _open_control(
    settings: Settings,
    opened: contextlib.AsyncExitStack,
    stores: ServerStores,
    bus: CommandBus,
    route: Callable[[str], str] | None,
) -> ControlPlane:
    """The server's control plane, open, with the executions the log says are running resumed."""
    # A command handed to a worker with a report is leased as long as a bus delivery is.
    # Replicas: an execution another server ended is noticed within REPLICA_SWEEP seconds.
    control = ControlPlane(
        stores.events,
        bus,
        route=route,
        lease=settings.ack_wait,
        sweep=REPLICA_SWEEP,
        reads=ControlReads(stores.results, settings.control_read_limit),
    )
    control.open()
    opened.push_async_callback(control.close)
    await control.resume_all()
    return control


def _start_scheduler(
    opened: contextlib.AsyncExitStack, stores: ServerStores, control: ControlPlane
) -> Scheduler:
    """Every replica runs a scheduler: the slot records make each slot fire once among them."""
    # Imported here, as pruning: cron parsing is no part of `noetl run`'s cold start.
    from noetl.runtime.scheduler import Scheduler

    scheduler = Scheduler(stores.schedules, stores.catalog, control, stores.events)
    scheduler.start()
    opened.push_async_callback(scheduler.stop)
    return scheduler


class _Closable(Protocol):
    async def close(self) -> None: ...


_C = TypeVar("_C", bound=_Closable)


def _kept(opened: contextlib.AsyncExitStack, store: _C) -> _C:
    """`store`, its closing pushed on `opened`."""
    opened.push_async_callback(store.close)
    return store


async def _open_stores(settings: Settings, opened: contextlib.AsyncExitStack) -> ServerStores:
    """The event store, the catalog, the credential store, the result store, the schedule
    store, the hook store, retention and the worker registry, all in the server's database;
    each one's closing is pushed on `opened` as soon as it is open."""
    if settings.pg_dsn:
        from noetl.store.postgres import PostgresEventStore
        from noetl.store.postgres.catalog import PostgresCatalogStore
        from noetl.store.postgres.credentials import PostgresCredentialStore
        from noetl.store.postgres.hooks import PostgresHookStore
        from noetl.store.postgres.results import PostgresResultStore
        from noetl.store.postgres.retention import PostgresRetention
        from noetl.store.postgres.schedules import PostgresScheduleStore
        from noetl.store.postgres.workers import PostgresWorkerRegistry

        dsn = settings.pg_dsn
        return ServerStores(
            _kept(opened, await PostgresEventStore.open(dsn)),
            _kept(opened, await PostgresCatalogStore.open(dsn)),
            _kept(opened, await PostgresCredentialStore.open(dsn)),
            _kept(opened, await PostgresResultStore.open(dsn)),
            _kept(opened, await PostgresScheduleStore.open(dsn)),
            _kept(opened, await PostgresHookStore.open(dsn)),
            _kept(opened, await PostgresRetention.open(dsn)),
            _kept(opened, await PostgresWorkerRegistry.open(dsn)),
        )
    from noetl.store.sqlite.hooks import SqliteHookStore
    from noetl.store.sqlite.retention import SqliteRetention

    path = settings.db_path
    return ServerStores(
        _kept(opened, SqliteEventStore.open(path)),
        _kept(opened, SqliteCatalogStore.open(path)),
        _kept(opened, SqliteCredentialStore.open(path)),
        _kept(opened, SqliteResultStore.open(path)),
        _kept(opened, SqliteScheduleStore.open(path)),
        _kept(opened, SqliteHookStore.open(path)),
        _kept(opened, SqliteRetention.open(path)),
        _kept(opened, SqliteWorkerRegistry.open(path)),
    )


async def open_worker(settings: Settings) -> WorkerRuntime:
    """`settings.workers` workers of pool `settings.pool`, fed by NATS at `settings.nats_url`,
    claiming and reporting through the server at `settings.server_url`."""
    from noetl.bus.nats import NatsBus
    from noetl.client.children import RemoteChildren
    from noetl.client.credentials import RemoteCredentials
    from noetl.client.results import RemoteResultStore
    from noetl.client.source import RemoteSource
    from noetl.client.transport import ServerClient
    from noetl.client.workers import RemoteWorkerRegistry

    if not settings.nats_url:
        raise ConfigError("a worker needs the NATS URL (--nats or NOETL_NATS_URL)")
    budget.configure(settings)
    client = ServerClient(settings.server_url, token=settings.worker_token or settings.api_token)
    source = RemoteSource(client, worker=settings.worker_id)
    bus = await NatsBus.connect(settings.nats_url, ack_wait=settings.ack_wait)
    # Large results go to the server (its database): every worker, on any machine, reads them.
    results = RemoteResultStore(client, patience=source.patience)
    resources = Resources()
    resources.children = RemoteChildren(client)
    # Named credentials are decrypted by the server (it holds NOETL_SECRET_KEY), one request each.
    resources.credentials = MaskingCredentials(
        RemoteCredentials(client, patience=source.patience), resources.masks
    )
    workers = WorkerPool(
        bus,
        source,
        resources,
        results=results,
        inline_limit=settings.inline_limit,
        pool=settings.pool,
        concurrency=settings.workers,
        heartbeat=settings.ack_wait / 3,  # well inside the lease, so running work keeps it
        worker_id=settings.worker_id,
    )
    # Registered through the server before taking work: the worker is listed at once.
    presence = Presence(RemoteWorkerRegistry(client), workers, every=settings.heartbeat)
    await presence.start()
    await bus.on_cancel(workers.cancel)  # the server announces cancels on the bus
    workers.start()
    return WorkerRuntime(settings, bus, source, workers, resources, presence)
