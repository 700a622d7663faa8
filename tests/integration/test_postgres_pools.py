"""The PostgreSQL stores' pools and connection settings, on the session's real PostgreSQL:
each pool is named after its store (what psycopg_pool's log lines call it)."""

from __future__ import annotations

import asyncio

import pytest

from noetl.store.postgres import PostgresEventStore
from noetl.store.postgres.catalog import PostgresCatalogStore
from noetl.store.postgres.credentials import PostgresCredentialStore
from noetl.store.postgres.hooks import PostgresHookStore
from noetl.store.postgres.results import PostgresResultStore
from noetl.store.postgres.retention import PostgresRetention
from noetl.store.postgres.schedules import PostgresScheduleStore
from noetl.store.postgres.workers import PostgresWorkerRegistry

pytestmark = pytest.mark.integration


def test_each_store_names_its_pool_after_itself(pg_dsn):
    kinds = (
        PostgresEventStore,
        PostgresCatalogStore,
        PostgresCredentialStore,
        PostgresHookStore,
        PostgresResultStore,
        PostgresRetention,
        PostgresScheduleStore,
        PostgresWorkerRegistry,
    )

    async def names() -> list[str]:
        stores = [await kind.open(pg_dsn) for kind in kinds]
        try:
            return [store._pool.name for store in stores]
        finally:
            for store in stores:
                await store.close()

    assert asyncio.run(names()) == [
        "noetl-event-store",
        "noetl-catalog",
        "noetl-credential-store",
        "noetl-hook-store",
        "noetl-result-store",
        "noetl-retention",
        "noetl-schedule-store",
        "noetl-worker-registry",
    ]
