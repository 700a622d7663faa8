"""The output tasks printed, read back from the event log (`noetl logs`, `GET .../logs`).

Each `task.done` / `task.failed` event carries its attempt's captured output (stdout, stderr,
`logging`; the tail, at most `noetl.worker.output.MAX_OUTPUT` characters), inline or, when
large, by reference to the result store.
"""

from __future__ import annotations

from typing import Any, Protocol

from noetl.engine.events import TASK_DONE, TASK_FAILED, Event
from noetl.store.results import ResultStore, is_ref


class EventLog(Protocol):
    """What is read: an event store's read side (local, or a server's)."""

    async def read(
        self, execution_id: str, *, after_seq: int = 0, limit: int | None = None
    ) -> list[Event]:
        """Events of one execution, in seq order."""
        ...


async def task_logs(
    log: EventLog,
    results: ResultStore,
    execution_id: str,
    step: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """One entry per task attempt that printed something (of `step`, when given), in order;
    the first `limit` of them when given."""
    entries: list[dict[str, Any]] = []
    for event in await log.read(execution_id):
        if limit is not None and len(entries) >= limit:
            break
        if event.type not in (TASK_DONE, TASK_FAILED) or "output" not in event.payload:
            continue
        if step is not None and event.step != step:
            continue
        payload = event.payload
        text = payload["output"]
        if is_ref(text):
            text = await results.get(text)
        entries.append(
            {
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
        )
    return entries


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
