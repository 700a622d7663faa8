"""Local PostgreSQL and NATS servers started from the wheels: they start, keep their data,
restart, never run PostgreSQL as root, and leave no process behind when stopped."""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path

import nats
import psutil
import psycopg
import pytest
from nats.js.api import StorageType

from noetl.devservers.services import LocalNats, LocalPostgres
from noetl.errors import LocalServiceError

pytestmark = pytest.mark.integration


def processes_using(path: Path) -> list[psutil.Process]:
    """Live (non-zombie) processes whose command line mentions `path`."""
    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        cmdline = " ".join(process.info["cmdline"] or ())
        if str(path) in cmdline and process.info["status"] != psutil.STATUS_ZOMBIE:
            found.append(process)
    return found


def test_postgres_starts_keeps_data_across_restarts_and_stops_cleanly(tmp_path: Path) -> None:
    server = LocalPostgres.start(tmp_path, durable=False)
    try:
        with psycopg.connect(server.dsn, autocommit=True) as conn:
            conn.execute("CREATE TABLE kept (v text)")
            conn.execute("INSERT INTO kept VALUES ('still here')")
        assert processes_using(tmp_path)
    finally:
        server.stop()
    assert server.process.poll() is not None
    assert processes_using(tmp_path) == []

    initialised = (tmp_path / "pgdata" / "PG_VERSION").stat().st_mtime_ns
    again = LocalPostgres.start(tmp_path)
    try:
        with psycopg.connect(again.dsn) as conn:
            assert conn.execute("SELECT v FROM kept").fetchall() == [("still here",)]
    finally:
        again.stop()
    assert (tmp_path / "pgdata" / "PG_VERSION").stat().st_mtime_ns == initialised  # no initdb
    assert processes_using(tmp_path) == []


def test_postgres_never_runs_as_root(tmp_path: Path) -> None:
    server = LocalPostgres.start(tmp_path, durable=False)
    try:
        owner = psutil.Process(server.process.pid).uids().real
    finally:
        server.stop()
    if os.geteuid() == 0:
        assert owner != 0
    else:
        assert owner == os.geteuid()


def test_postgres_on_a_taken_port_fails_clearly(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(LocalServiceError, match=f"port {port} is already in use"):
            LocalPostgres.start(tmp_path, port=port, durable=False)
    assert processes_using(tmp_path) == []


async def _publish_and_count(url: str, stream: str, publish: bool) -> int:
    """Messages in `stream` (created when missing), after publishing one when asked."""
    client = await nats.connect(url, connect_timeout=5, max_reconnect_attempts=0)
    try:
        js = client.jetstream()
        if publish:
            await js.add_stream(name=stream, subjects=[f"{stream}.>"], storage=StorageType.FILE)
            await js.publish(f"{stream}.one", b"payload")
        info = await js.stream_info(stream)
        return int(info.state.messages)
    finally:
        await client.close()


def test_nats_jetstream_survives_a_restart_on_the_same_port(tmp_path: Path) -> None:
    server = LocalNats.start(tmp_path)
    try:
        url = server.url
        assert asyncio.run(_publish_and_count(url, "KEEP", publish=True)) == 1
        server.restart()
        assert server.url == url
        assert asyncio.run(_publish_and_count(url, "KEEP", publish=False)) == 1
    finally:
        server.stop()
    assert server.process.poll() is not None
    assert processes_using(tmp_path) == []


def test_nats_on_a_taken_port_fails_clearly(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(LocalServiceError, match="NATS exited"):
            LocalNats.start(tmp_path, port=port)
    assert processes_using(tmp_path) == []


def test_session_fixtures_give_working_servers(pg_dsn: str, nats_url: str) -> None:
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    assert asyncio.run(_publish_and_count(nats_url, "FIXTURE_CHECK", publish=True)) >= 1
