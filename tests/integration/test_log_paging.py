"""`noetl events` (without `--follow`) and `noetl retry` read a long log a page at a time, and
retry only the events its plan is built from, with the same output as reading the whole log:
a real failed execution of more events than a page holds (SQLite log)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Collection
from typing import Any

import pytest

from noetl.cli.inspect import _line, print_events
from noetl.config import Settings
from noetl.engine.events import Event
from noetl.engine.reuse import PLAN_EVENTS, plan_from_log
from noetl.runtime.assemble import open_stores
from noetl.runtime.live import READ_PAGE
from noetl.runtime.retry import prepare_retry
from support.runs import run_to_end

ITEMS = READ_PAGE // 5 + 100  # each iteration writes 5 or more events: more than one page

LONG = """\
apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: long}
workload: {n: 0}
workflow:
  - step: start
    loop: {in: "{{ range(workload.n) | list }}", iterator: i, spec: {mode: parallel}}
    tool: {kind: noop, result: "{{ iter.i }}"}
    next: [{step: boom}]
  - step: boom
    tool: {kind: python, code: "raise ValueError('late failure')"}
"""


class RecordingLog:
    """A real event store that records what each read asked for."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.reads: list[tuple[int | None, frozenset[str] | None]] = []

    async def get_execution(self, execution_id: str) -> Any:
        return await self.store.get_execution(execution_id)

    async def read(
        self,
        execution_id: str,
        *,
        after_seq: int = 0,
        limit: int | None = None,
        types: Collection[str] | None = None,
        **filters: Any,
    ) -> list[Event]:
        self.reads.append((limit, None if types is None else frozenset(types)))
        return list(
            await self.store.read(
                execution_id, after_seq=after_seq, limit=limit, types=types, **filters
            )
        )


@pytest.fixture(scope="module")
def failed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, str]:
    """A failed execution whose log is longer than READ_PAGE events."""
    return run_to_end(tmp_path_factory.mktemp("long"), "long", LONG, ITEMS, "failed")


def test_events_prints_the_whole_log_reading_it_a_page_at_a_time(failed, capsys):
    settings, execution_id = failed

    async def go() -> tuple[list[Event], RecordingLog, str, str]:
        stores = await open_stores(settings)
        try:
            recording = RecordingLog(stores.events)
            await print_events(recording, execution_id, as_json=True)
            printed_json = capsys.readouterr().out
            await print_events(recording, execution_id, as_json=False)
            printed_lines = capsys.readouterr().out
            whole = await stores.events.read(execution_id)
            return whole, recording, printed_json, printed_lines
        finally:
            await stores.close()

    whole, recording, printed_json, printed_lines = asyncio.run(go())
    assert len(whole) > READ_PAGE
    assert json.loads(printed_json) == [e.to_dict() for e in whole]
    assert printed_lines.splitlines() == [_line(e) for e in whole]
    assert recording.reads and all(limit == READ_PAGE for limit, _ in recording.reads)
    assert len(recording.reads) == 2 * (len(whole) // READ_PAGE + 1)


def test_retry_reads_the_plan_s_events_only_a_page_at_a_time(failed):
    settings, execution_id = failed

    async def go() -> tuple[list[Event], Any, RecordingLog]:
        stores = await open_stores(settings)
        try:
            recording = RecordingLog(stores.events)
            job = await prepare_retry(recording, execution_id)  # type: ignore[arg-type]
            return await stores.events.read(execution_id), job, recording
        finally:
            await stores.close()

    whole, job, recording = asyncio.run(go())
    assert job.retry["steps"] == plan_from_log(whole)  # the same plan as from the whole log
    assert set(job.retry["steps"]) == {"start"}  # the loop is reused, `boom` runs again
    first, *pages = recording.reads
    assert first == (1, None)  # playbook.started: the source and the payload
    assert pages and all(read == (READ_PAGE, PLAN_EVENTS) for read in pages)
