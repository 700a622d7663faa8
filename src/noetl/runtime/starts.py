"""An execution's first event, and starts that happen once.

`first_event` is the `playbook.started` event a start writes. With a client's Idempotency-Key
the start happens once: the execution id is derived from the key (`ids.keyed_id`), and
`playbook.started` records the key with a digest of the request, so a repeat (a retry after a
lost answer, or a client that could not tell whether its start went through) finds the
execution instead of starting another, and a different request reusing the key is refused.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from noetl import ids
from noetl.engine.decide import start_event
from noetl.engine.definition import PlaybookDef
from noetl.engine.events import Event
from noetl.errors import ConflictError
from noetl.runtime.workload import started_workload
from noetl.store.port import EventStore


def first_event(
    playbook: PlaybookDef,
    payload: Mapping[str, Any] | None,
    *,
    source: str | None,
    request_key: str | None,
    parent_execution_id: str | None = None,
    retry: Mapping[str, Any] | None = None,
    trigger: Mapping[str, Any] | None = None,
) -> tuple[Event, dict[str, Any] | None]:
    """The `playbook.started` event of a new execution (its id derived from `request_key` when
    there is one), naming the `source` it was started from; and, with a key, the request it
    records (`{key, sha256}`, what `started_before` compares)."""
    execution_id = ids.new_id() if request_key is None else ids.keyed_id(request_key)
    first = start_event(
        playbook,
        execution_id,
        payload,
        parent_execution_id=parent_execution_id,
        retry=retry,
        trigger=trigger,
        workload=started_workload(playbook, payload, execution_id),
    )
    request = None
    if request_key is not None:
        request = {"key": request_key, "sha256": request_digest(first.payload, source)}
    if source is not None:
        described = {**first.payload["playbook"], "source": source, "file": playbook.source_file}
        first = replace(first, payload={**first.payload, "playbook": described})
    if request is not None:
        first = replace(first, payload={**first.payload, "request": request})
    return first, request


def request_digest(started: Mapping[str, Any], source: str | None) -> str:
    """What identifies a start request: its playbook source, payload and parent."""
    body = [source, started.get("payload"), started.get("parent_execution_id")]
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


async def started_before(store: EventStore, execution_id: str, request: Mapping[str, Any]) -> bool:
    """Whether the keyed execution is in the log; ConflictError when an earlier request with
    the same key was a different one."""
    log = await store.read(execution_id, limit=1)
    if not log:
        return False
    if log[0].payload.get("request", {}).get("sha256") != request["sha256"]:
        raise ConflictError(
            f"Idempotency-Key {request['key']!r} was used for a different request "
            f"(execution {execution_id})"
        )
    return True
