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
from noetl.engine.storable import text_problem, unstorable
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
                event = _unstorable(event, exc)
            else:
                if ref is not value:
                    event = replace(event, payload={**event.payload, "result": ref})
        error = event.payload.get("error")
        if event.type in (TASK_FAILED, STEP_FAILED) and isinstance(error, dict):
            # what a tool raised may quote data: its message is kept like captured output
            kept = {key: _keepable_text(value) for key, value in error.items()}
            if any(kept[key] is not value for key, value in error.items()):
                event = replace(event, payload={**event.payload, "error": kept})
        if event.type in (TASK_DONE, TASK_FAILED) and "output" in event.payload:
            # A task's captured output is kept like a result: by reference when large.
            text = event.payload["output"]
            ref = await _reference(_keepable_text(text), event.execution_id, store, limit, stored)
            if ref is not text:
                event = replace(event, payload={**event.payload, "output": ref})
        out.append(event)
    return out


def _unstorable(event: Event, exc: Exception) -> Event:
    """A result that cannot be written as JSON (a circular structure) or kept in an event (see
    `noetl.engine.storable`): the task or step fails."""
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
        if isinstance(value, (float, str)):
            _check_inline(value, None)
        return value
    known = stored.get(id(value))
    if known is not None:
        return known
    body = encode(value)
    if len(body) <= limit:
        _check_inline(value, body)
        ref = value
    else:  # the result store keeps any bytes
        ref = await store.put(execution_id, body)
    stored[id(value)] = ref
    return ref


# What the JSON of a value an event store refuses contains (`noetl.engine.storable`); only a
# body holding one of these is walked, so a plain result costs a few byte scans.
_SUSPECT = (b"NaN", b"Infinity", b"\\u0000", b"\\ud")


def _check_inline(value: Any, body: bytes | None) -> None:
    """ValueError naming the problem when `value` (JSON `body`, None for a scalar) cannot be
    kept in an event."""
    if body is not None and not any(mark in body for mark in _SUSPECT):
        return
    problem = unstorable(value, "result")
    if problem is not None:
        raise ValueError(problem)


def _keepable_text(text: Any) -> Any:
    """Captured output an event can hold: NUL and lone surrogates written as escapes."""
    if not isinstance(text, str) or text_problem(text) is None:
        return text
    text = text.replace("\x00", "\\x00")
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


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
