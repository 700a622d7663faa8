"""Liveness and readiness of the server: `/health` answers while the process does, `/ready`
only while its event store and its bus answer. Against a real server process on real
PostgreSQL and NATS, which the tests stop and start again, and the embedded shape (SQLite
log, in-process bus) of `noetl ui`."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from noetl.config import Settings
from noetl.devservers.cluster import DevCluster
from noetl.store.postgres.connection import describe
from support.live_server import LiveServer

pytestmark = pytest.mark.integration

TOKEN = "readiness-token-5c1e"
PATIENCE = 60.0  # seconds a restarted dependency gets before the server must be ready again


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevCluster]:
    """A server with a token on its own PostgreSQL and NATS (the tests stop them), no workers."""
    home = tmp_path_factory.mktemp("readiness")
    running = DevCluster.start(home, workers=0, durable=False, api_token=TOKEN)
    try:
        yield running
    finally:
        running.stop()


def get(cluster: DevCluster, path: str) -> httpx.Response:
    """GET without any token: probes send none."""
    return httpx.get(f"{cluster.server_url}/api/v2{path}", timeout=15)


def until_ready(cluster: DevCluster) -> httpx.Response:
    deadline = time.monotonic() + PATIENCE
    while True:
        answer = get(cluster, "/ready")
        if answer.status_code == 200 or time.monotonic() > deadline:
            return answer
        time.sleep(0.25)


def while_down(stop: Callable[[], None], start: Callable[[], None], cluster: DevCluster):
    """`/health` and `/ready` while a dependency is stopped; `/ready` once it is back."""
    stop()
    try:
        health, ready = get(cluster, "/health"), get(cluster, "/ready")
    finally:
        start()
    return health, ready, until_ready(cluster)


def test_ready_without_a_token_when_store_and_bus_answer(cluster):
    answer = get(cluster, "/ready")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "ready"
    assert body["checks"] == {
        "event_store": {"status": "up", "reason": None},
        "bus": {"status": "up", "reason": None},
    }
    assert get(cluster, "/executions").status_code == 401  # the rest still needs the token


def test_postgresql_down_is_live_but_not_ready_naming_the_event_store(cluster):
    postgres = cluster.postgres
    health, ready, back = while_down(postgres.stop, lambda: postgres.restart(), cluster)
    assert health.status_code == 200  # liveness asks nothing of the database
    assert ready.status_code == 503, ready.text
    body = ready.json()
    assert (body["status"], body["checks"]["bus"]["status"]) == ("unready", "up")
    store = body["checks"]["event_store"]
    assert store["status"] == "down"
    # the driver's reason: a lost connection, or the database that cannot be reached
    assert store["reason"].startswith(f"reading on {describe(postgres.dsn)} failed: ")
    assert body["detail"].startswith("event store is down: ")
    assert postgres.dsn not in ready.text
    assert back.status_code == 200, back.text


def test_nats_down_is_live_but_not_ready_naming_the_bus(cluster):
    nats = cluster.nats
    health, ready, back = while_down(nats.stop, nats.restart, cluster)
    assert health.status_code == 200
    assert ready.status_code == 503, ready.text
    body = ready.json()
    assert body["checks"]["event_store"]["status"] == "up"
    bus = body["checks"]["bus"]
    assert bus["status"] == "down"
    assert bus["reason"].startswith(f"NATS {cluster.nats.url}: ")
    assert body["detail"].startswith("bus is down: ")
    assert back.status_code == 200, back.text


def test_the_embedded_server_is_always_ready(tmp_path: Path):
    """`noetl ui`'s shape: a SQLite log and an in-process bus, both this process's own."""
    settings = Settings(home=tmp_path, db=tmp_path / "noetl.db", api_token=TOKEN)
    with LiveServer(settings, local_workers=1) as live:
        answer = httpx.get(f"{live.url}/api/v2/ready", timeout=15)
    assert answer.status_code == 200, answer.text
    assert {name: c["status"] for name, c in answer.json()["checks"].items()} == {
        "event_store": "up",
        "bus": "up",
    }
