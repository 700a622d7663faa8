"""The output tasks printed, read back from the event log (`noetl logs`, `GET .../logs`).

Each `task.done` / `task.failed` event carries its attempt's captured output (stdout, stderr,
`logging`; the tail, at most `noetl.worker.output.MAX_OUTPUT` characters), inline or, when
large, by reference to the result store.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from noetl.engine.events import TASK_DONE, TASK_FAILED, Event
from noetl.store.port import EventLog
from noetl.store.results import ResultStore, is_ref

LOG_PAGE = 1000  # task events per read: memory stays bounded however long the log is
TASK_EVENTS = (TASK_DONE, TASK_FAILED)


async def task_logs(
    log: EventLog,
    results: ResultStore,
    execution_id: str,
    step: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """One entry per task attempt that printed something (of `step`, when given), in order;
    the first `limit` of them when given."""
    return [entry async for entry in each_task_log(log, results, execution_id, step, limit)]


async def each_task_log(
    log: EventLog,
    results: ResultStore,
    execution_id: str,
    step: str | None = None,
    limit: int | None = None,
) -> AsyncIterator[dict[str, Any]]:
    """The entries of `task_logs`, one at a time. The log is read a page of task events at a
    time (the store filters them) and no further than `limit` needs, so memory stays bounded
    however long the execution's log is."""
    after, left = 0, limit
    while left is None or left > 0:
        size = LOG_PAGE if left is None else min(LOG_PAGE, left)
        page = await log.read(
            execution_id, after_seq=after, limit=size, types=TASK_EVENTS, step=step
        )
        for event in page:  # no more than `left` (a page is no longer)
            if "output" in event.payload:
                left = None if left is None else left - 1
                yield await _entry(event, results)
        last = page[-1].seq if page else None
        if len(page) < size or last is None:  # a stored event always has its seq
            return
        after = last


async def _entry(event: Event, results: ResultStore) -> dict[str, Any]:
    """What one task attempt printed (loaded from the result store when it is a reference)."""
    payload = event.payload
    text = payload["output"]
    if is_ref(text):
        text = await results.get(text)
    return {
        "step": event.step,
        "iteration": event.iteration,
        "task": payload.get("task"),
        "attempt": payload.get("attempt"),
        "worker_id": payload.get("worker_id"),
        "status": "success" if event.type == TASK_DONE else "error",
        "created_at": event.created_at,
        "output": text,
        "truncated": bool(payload.get("output_truncated")),
    }


def render(entry: dict[str, Any]) -> str:
    """An entry as text: a header line naming the attempt, then its output."""
    where = str(entry["step"])
    if entry["iteration"] is not None:
        where += f"[{entry['iteration']}]"
    cut = " (truncated: the tail is kept)" if entry["truncated"] else ""
    header = (
        f"== {where} task {entry['task']} attempt {entry['attempt']} {entry['status']}"
        f" on {entry['worker_id']} at {entry['created_at']}{cut}"
    )
    body = str(entry["output"])
    return header + "\n" + (body if body.endswith("\n") else body + "\n")
