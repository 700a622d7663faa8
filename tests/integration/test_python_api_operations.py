"""The operations of the public Python API: `Embedded.retry`, and `noetl.Client`'s retry,
schedules, hooks and prune against a real server (uvicorn, SQLite, in-process workers)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import noetl
from noetl.config import Settings
from noetl.store.sqlite import SqliteEventStore
from support.live_server import LiveServer

FLAKY = """\
apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: flaky, path: tests/flaky}
workload: {fixed: false}
workflow:
  - step: start
    tool: {kind: python, code: "result = 20"}
    next: [{step: check}]
  - step: check
    tool:
      kind: python
      args: {fixed: "{{ workload.fixed }}", base: "{{ start }}"}
      code: |
        if not fixed:
            raise RuntimeError("not yet")
        result = base + 1
"""


def reused(events: list[dict]) -> list[str]:
    return [e["step"] for e in events if e["type"] == "step.reused"]


def test_embedded_retry_reuses_what_finished(tmp_path: Path):
    async def go() -> tuple[noetl.Outcome, noetl.Outcome, list[str]]:
        async with noetl.Embedded(db=tmp_path / "n.db") as runtime:
            failed = await runtime.run(FLAKY)
            retry_id = await runtime.retry(failed.execution_id, payload={"fixed": True})
            retried = await runtime.wait(retry_id)
        store = SqliteEventStore.open(tmp_path / "n.db")
        try:
            log = await store.read(retry_id)
        finally:
            await store.close()
        return failed, retried, [e.step or "" for e in log if e.type == "step.reused"]

    failed, retried, steps = asyncio.run(go())
    assert failed.status == "failed" and retried.status == "done" and retried.result == 21
    assert steps == ["start"]


@pytest.fixture
def client(tmp_path: Path) -> Iterator[noetl.Client]:
    settings = Settings(home=tmp_path, db=tmp_path / "noetl.db")
    server = LiveServer(settings, max_body=1024 * 1024, local_workers=2)
    with server, noetl.Client(server.url) as connected:
        yield connected


def test_client_retry_schedules_hooks_and_prune(client: noetl.Client):
    assert client.register(FLAKY)["version"] == 1
    failed = client.run("tests/flaky")
    assert failed.status == "failed"
    retried = client.wait(client.retry(failed.execution_id, payload={"fixed": True}))
    assert retried.status == "done" and retried.result == 21
    assert reused(client.events(retried.execution_id)) == ["start"]
    with pytest.raises(noetl.NoetlError, match="nope"):
        client.retry(failed.execution_id, from_step="nope")

    added = client.add_schedule("nightly", "tests/flaky", cron="0 2 * * *", timezone="Asia/Tokyo")
    assert len(added["next_fire_times"]) == 3
    assert [s["name"] for s in client.schedules()] == ["nightly"]
    assert client.pause_schedule("nightly")["paused"] is True
    assert client.schedule("nightly")["recent_slots"] == []
    client.delete_schedule("nightly")
    assert client.schedules() == []

    hook = client.add_hook("go", "tests/flaky")
    answer = httpx.post(
        f"{client.url}/api/v2/hooks/go",
        json={"fixed": True},
        headers={"X-NoETL-Hook-Secret": hook["secret"]},
        timeout=20,
    )
    assert answer.status_code == 202, answer.text
    assert client.wait(answer.json()["execution_id"]).result == 21
    assert hook["secret"] not in json.dumps(client.hooks())
    client.delete_hook("go")
    assert client.hooks() == []

    counts = client.prune("1h", dry_run=True)
    assert counts == {"dry_run": True, "executions": 0, "events": 0, "claims": 0, "results": 0}
