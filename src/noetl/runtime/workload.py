"""The workload an execution starts with: its templates rendered once, when it starts.

A workload value may be a template (`{{ now() }}`, `{{ job.uuid }}`, `{{ execution_id }}`):
it is rendered here, in the shell, once per execution, and `playbook.started` records the
result, so every step sees the same value and a replay reads it from the log instead of calling
the clock again. The clock and the uuids are offered only here; the engine never sees them.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from noetl.dsl.templates import is_template
from noetl.engine.definition import PlaybookDef
from noetl.engine.routing import deep_merge
from noetl.engine.storable import unstorable
from noetl.errors import ConfigError


def started_workload(
    playbook: PlaybookDef, payload: Mapping[str, Any] | None, execution_id: str
) -> dict[str, Any]:
    """The playbook's workload deep-merged with the request payload, its templates rendered
    (TemplateError naming `workload.<key>` when one cannot be; ConfigError naming the field
    when the payload or the workload holds what no event store can keep, see
    `noetl.engine.storable`)."""
    for value, name in ((payload or {}, "payload"), (playbook.workload, "workload")):
        problem = unstorable(value, name)
        if problem is not None:
            raise ConfigError(problem)
    merged = deep_merge(playbook.workload, payload or {})
    if not any(_has_template(value) for value in merged.values()):
        return merged
    instant = datetime.now(UTC).isoformat()
    scope = {
        "workload": merged,
        "execution_id": execution_id,
        "job": {"uuid": str(uuid.uuid4()), "execution_id": execution_id, "id": execution_id},
        "now": lambda: instant,  # one instant per start: every `now()` of it agrees
        "uuid": lambda: str(uuid.uuid4()),
    }
    render = playbook.renderer.render
    return {key: render(value, scope, where=f"workload.{key}") for key, value in merged.items()}


def _has_template(value: Any) -> bool:
    if isinstance(value, str):
        return is_template(value)
    if isinstance(value, Mapping):
        return any(_has_template(item) for item in value.values())
    if isinstance(value, list):
        return any(_has_template(item) for item in value)
    return False
