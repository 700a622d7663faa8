"""A step's result, read back from the event log (`noetl results`, `NoETL.results`).

One store-filtered read, newest first: the step's latest ending that is not a loop
iteration's (`step.done`, or a loop's `loop.done` with its ordered iteration results), however
long the execution's log is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from noetl.engine.events import LOOP_DONE, STEP_DONE
from noetl.errors import NotFoundError
from noetl.store.port import EventLog
from noetl.store.results import ResultStore, is_ref

RESULT_EVENTS = (STEP_DONE, LOOP_DONE)


async def step_result(log: EventLog, store: ResultStore, execution_id: str, step: str) -> Any:
    """The last result of `step` in the execution's log (a loop's: its ordered iteration
    results), loaded from `store` where it is a reference; NotFoundError when it has none."""
    latest = await log.read(
        execution_id, types=RESULT_EVENTS, step=step, iterations=False, newest_first=True, limit=1
    )
    if not latest:
        raise NotFoundError(f"execution {execution_id} has no result for step '{step}'")
    payload = latest[0].payload
    if "results" in payload:
        return [await store.get(r) if is_ref(r) else r for r in payload["results"]]
    value = payload.get("result")
    return await store.get(value) if isinstance(value, Mapping) and is_ref(value) else value
