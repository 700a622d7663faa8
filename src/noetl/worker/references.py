"""Reference-first results on the worker's side.

After a command ran, results larger than the inline limit are moved to the result store and
the events carry a ResultRef instead (`externalize`). Before a command runs, the results of
earlier steps that its templates name are loaded back (`resolve`), so templates and tools see
the data, never the reference. The engine itself only ever sees references.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from noetl.engine.definition import PlaybookDef
from noetl.engine.events import STEP_DONE, STEP_FAILED, TASK_DONE, TASK_FAILED, Event
from noetl.engine.routing import worker_names
from noetl.store.results import ResultStore, encode, is_ref

_SCALARS = (type(None), bool, int, float)


async def externalize(events: list[Event], store: ResultStore, limit: int) -> list[Event]:
    """`events` with every large task/step result replaced by a ResultRef (stored once)."""
    stored: dict[int, Any] = {}
    out: list[Event] = []
    for event in events:
        if event.type in (TASK_DONE, STEP_DONE) and "result" in event.payload:
            value = event.payload["result"]
            try:
                ref = await _reference(value, event.execution_id, store, limit, stored)
            except (ValueError, TypeError, RecursionError) as exc:
                out.append(_unstorable(event, exc))
                continue
            if ref is not value:
                event = replace(event, payload={**event.payload, "result": ref})
        if event.type in (TASK_DONE, TASK_FAILED) and "output" in event.payload:
            # A task's captured output is kept like a result: by reference when large.
            text = event.payload["output"]
            ref = await _reference(text, event.execution_id, store, limit, stored)
            if ref is not text:
                event = replace(event, payload={**event.payload, "output": ref})
        out.append(event)
    return out


def _unstorable(event: Event, exc: Exception) -> Event:
    """A result that cannot be written as JSON (a circular structure): the task or step fails."""
    what = f"task '{event.payload.get('task')}'" if event.type == TASK_DONE else "result"
    message = f"step '{event.step}' {what}: the result cannot be stored as JSON ({exc})"
    error = {"kind": "result", "message": message, "retryable": False}
    payload = {k: v for k, v in event.payload.items() if k != "result"}
    payload["error"] = error
    failed = TASK_FAILED if event.type == TASK_DONE else STEP_FAILED
    return replace(event, type=failed, payload=payload)


async def _reference(
    value: Any, execution_id: str, store: ResultStore, limit: int, stored: dict[int, Any]
) -> Any:
    if isinstance(value, _SCALARS) or (isinstance(value, str) and len(value) * 4 < limit):
        return value
    known = stored.get(id(value))
    if known is not None:
        return known
    body = encode(value)
    ref = value if len(body) <= limit else await store.put(execution_id, body)
    stored[id(value)] = ref
    return ref


async def resolve(
    playbook: PlaybookDef, step: str, scope: Mapping[str, Any], store: ResultStore
) -> dict[str, Any]:
    """A copy of `scope` where the step results the step's templates name are loaded."""
    resolved = dict(scope)
    for name in worker_names(playbook, step):
        value = resolved.get(name)
        if isinstance(value, Mapping) and is_ref(value):
            resolved[name] = await store.get(value)
        elif isinstance(value, Mapping) and isinstance(value.get("results"), list):
            items = value["results"]
            if any(is_ref(item) for item in items):
                loaded = [await store.get(i) if is_ref(i) else i for i in items]
                resolved[name] = {**value, "results": loaded}
    return resolved
