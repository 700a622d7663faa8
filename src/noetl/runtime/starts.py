"""Starts that happen once: a client's Idempotency-Key names the execution it started.

The execution id is derived from the key (`ids.keyed_id`), and `playbook.started` records the
key with a digest of the request, so a repeat (a retry after a lost answer, or a client that
could not tell whether its start went through) finds the execution instead of starting another,
and a different request reusing the key is refused.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from noetl.errors import ConflictError
from noetl.store.port import EventStore


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
