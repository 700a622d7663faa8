"""`noetl logs` and `GET .../logs` read the event log a page of task events at a time and no
further than `limit` needs, with the same output as reading the whole log: a real execution
of more task attempts than a page holds (SQLite log), read locally, through a real server and
through the CLI."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Collection
from typing import Any

import pytest

from noetl.config import Settings
from noetl.engine.events import TASK_DONE, TASK_FAILED, Event
from noetl.runtime.assemble import open_stores
from noetl.runtime.task_logs import LOG_PAGE, task_logs
from support.live_server import LiveServer, api_client
from support.runs import NOETL, run_to_end

ITEMS = LOG_PAGE + 150  # task attempts that print: more than one page of them

MANY = """\
apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: many}
workload: {n: 0}
workflow:
  - step: start
    loop: {in: "{{ range(workload.n) | list }}", iterator: i}
    tool: {kind: python, args: {i: "{{ iter.i }}"}, code: "print('line', i)\\nresult = i"}
    next: [{step: quiet}]
  - step: quiet
    tool: {kind: python, code: "result = 'printed nothing'"}
"""


class CountingLog:
    """A real event store's read side that counts the events each read returned."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.reads: list[int] = []

    async def read(
        self,
        execution_id: str,
        *,
        after_seq: int = 0,
        limit: int | None = None,
        types: Collection[str] | None = None,
        step: str | None = None,
    ) -> list[Event]:
        found = await self.store.read(
            execution_id, after_seq=after_seq, limit=limit, types=types, step=step
        )
        self.reads.append(len(found))
        return list(found)


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, str]:
    """An execution of ITEMS printing loop iterations and a step that prints nothing."""
    return run_to_end(tmp_path_factory.mktemp("many"), "many", MANY, ITEMS, "done", timeout=300)


async def _read(settings: Settings, execution_id: str, limit: int | None) -> dict[str, Any]:
    """Every event of the log, and the logs read through a counting store with `limit`."""
    stores = await open_stores(settings)
    try:
        everything = await stores.events.read(execution_id)
        counted = CountingLog(stores.events)
        entries = await task_logs(counted, stores.results, execution_id, limit=limit)
        return {"events": everything, "entries": entries, "reads": counted.reads}
    finally:
        await stores.close()


def _expected(events: list[Event]) -> list[tuple[Any, ...]]:
    """What the logs show, from the whole log: each printing task attempt, in log order."""
    return [
        (e.step, e.iteration, e.payload["output"], e.created_at)
        for e in events
        if e.type in (TASK_DONE, TASK_FAILED) and "output" in e.payload
    ]


def _shown(entries: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(e["step"], e["iteration"], e["output"], e["created_at"]) for e in entries]


def test_all_logs_are_read_a_page_at_a_time_and_equal_the_whole_logs(ran):
    settings, execution_id = ran
    read = asyncio.run(_read(settings, execution_id, None))
    expected = _expected(read["events"])
    assert len(expected) == ITEMS and len(read["events"]) > 3 * ITEMS
    assert _shown(read["entries"]) == expected
    assert sorted(int(out.split()[1]) for *_, out, _ in expected) == list(range(ITEMS))
    assert max(read["reads"]) <= LOG_PAGE and len(read["reads"]) >= 2
    assert sum(read["reads"]) <= ITEMS + 1  # task events only (and the quiet step's one)


def test_a_limit_bounds_what_is_read(ran):
    settings, execution_id = ran
    read = asyncio.run(_read(settings, execution_id, 5))
    assert _shown(read["entries"]) == _expected(read["events"])[:5]
    assert sum(read["reads"]) == 5


def test_the_api_and_the_cli_show_the_same_logs(ran):
    settings, execution_id = ran
    expected = _expected(asyncio.run(_read(settings, execution_id, 1))["events"])
    with LiveServer(settings) as live, api_client(live, None) as api:
        route = f"/executions/{execution_id}/logs"
        assert _shown(api.get(route).json()["logs"]) == expected
        assert _shown(api.get(route, params={"limit": 7}).json()["logs"]) == expected[:7]
        remote = _noetl("logs", execution_id, "--json", "--server", live.url)
        assert _shown(json.loads(remote)) == expected
    local = json.loads(_noetl("logs", execution_id, "--json", "--db", str(settings.db)))
    assert _shown(local) == expected
    text = _noetl("logs", execution_id, "--db", str(settings.db))
    assert text.count("\n== ") + text.startswith("== ") == ITEMS
    assert [line for line in text.splitlines() if line.startswith("line ")] == [
        out.rstrip("\n") for *_, out, _ in expected
    ]


def _noetl(*args: str) -> str:
    """stdout of the `noetl` CLI (which must succeed)."""
    done = subprocess.run([NOETL, *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    return done.stdout
