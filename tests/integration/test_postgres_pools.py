"""The PostgreSQL stores' pools and connection settings, on the session's real PostgreSQL:
each pool is named after its store (what psycopg_pool's log lines call it), and a setting
libpq refuses is a configuration error, not a lost connection."""

from __future__ import annotations

import asyncio

import pytest
from psycopg.conninfo import make_conninfo

from noetl.errors import ConfigError, StoreUnavailableError
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


@pytest.mark.parametrize("kind", [PostgresEventStore, PostgresCatalogStore])
def test_a_dsn_setting_libpq_refuses_is_a_configuration_error_naming_it(pg_dsn, kind):
    dsn = make_conninfo(pg_dsn, password="s3cret-pw", sslmode="bogus")
    with pytest.raises(ConfigError) as caught:
        asyncio.run(kind.open(dsn))
    message = str(caught.value)
    assert not isinstance(caught.value, StoreUnavailableError)  # not retried as an outage
    assert "setting `sslmode` is invalid" in message
    assert "s3cret-pw" not in message
