"""What a worker hands a tool, for tests that run one alone: its task context, and a credential
store that is a mapping."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from noetl.engine.definition import PlaybookDef
from noetl.errors import NotFoundError
from noetl.tools.base import Resources, ToolContext


class DictCredentials:
    """A credential store as a tool sees it (`async get(name)`), over `data`."""

    def __init__(self, data: Mapping[str, Mapping[str, Any]]) -> None:
        self.data = dict(data)

    async def get(self, name: str) -> Mapping[str, Any]:
        """The stored mapping; NotFoundError naming `name` when there is none."""
        if name not in self.data:
            raise NotFoundError(f"credential {name!r} not found")
        return self.data[name]


def tool_context(
    resources: Resources | None = None,
    *,
    step: str = "s",
    task: str = "t",
    timeout: float | None = None,
) -> ToolContext:
    """The context of task `task` of step `step` (first attempt, empty scope) in an execution of
    an empty playbook, with `resources` (none by default) and `timeout` seconds left."""
    return ToolContext(
        execution_id="e1",
        step=step,
        task=task,
        attempt=1,
        playbook=PlaybookDef(name="p", steps=(), renderer=None),  # type: ignore[arg-type]
        scope={},
        resources=resources if resources is not None else Resources(),
        timeout=timeout,
    )
