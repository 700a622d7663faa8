"""The web UI of `noetl server start` (PostgreSQL + NATS) with a `noetl worker start` process."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from playbooks import GREET
from playwright.sync_api import Page, expect
from psycopg.conninfo import make_conninfo

from support.ui_server import UiProcess, run_noetl

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def cluster(
    pg_dsn: str, nats_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[UiProcess]:
    """A server on its own PostgreSQL schema and one worker process of the default pool."""
    schema = f"ui_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    dsn = make_conninfo(pg_dsn, options=f"-c search_path={schema}")
    home = tmp_path_factory.mktemp("cluster")
    args = ["server", "start", "--pg", dsn, "--nats", nats_url]
    with UiProcess.start(args, home) as server:
        worker = run_noetl(
            ["worker", "start", "--server", server.url, "--nats", nats_url], home / "worker.log"
        )
        try:
            yield server
        finally:
            worker.terminate()
            worker.wait(30)


def test_the_server_serves_the_ui_and_a_run_started_there_turns_green(
    page: Page, cluster: UiProcess, shots: Path
) -> None:
    cluster.register(GREET)
    page.goto(cluster.url + "/playbooks/ui/greet")
    page.get_by_role("button", name="Start execution").click()
    page.wait_for_url("**/executions/*")
    for step in ("start", "greet", "end"):
        node = page.locator(f'g.node[data-step="{step}"]')
        expect(node).to_have_class("node s-done", timeout=60_000)
    expect(page.locator('g.node[data-step="greet"] text.count')).to_have_text("3/3")
    page.goto(cluster.url + "/")
    expect(page.locator("tbody tr .badge").first).to_have_text("done")
    page.screenshot(path=shots / "distributed-executions.png")
    page.goto(cluster.url + "/workers")  # the worker process registered with the server
    pool = page.locator("section.pool")
    expect(pool.locator("h2")).to_contain_text("Pool default")
    expect(pool.locator("tbody tr .badge")).to_have_text("alive")
    page.screenshot(path=shots / "distributed-workers.png")
