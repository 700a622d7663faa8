"""The tool port: what a tool kind implements and what it is given.

A tool receives its task's config already rendered (templates resolved, `args` included) and a
`ToolContext`. It returns the task's result (any JSON-friendly value) or raises
`noetl.errors.ToolError` (kind, message, retryable, code, status_code); the worker turns both
into the outcome envelope that `eval` rules see. Drivers are imported inside the tool module,
never at registry load time, so the embedded install stays light.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from noetl.engine.definition import PlaybookDef, TaskDef
from noetl.tools.masking import SecretMasks


@dataclass
class Resources:
    """Per-worker shared services and pooled clients, created once and reused across tasks.

    `pools` is where tools keep their pooled clients (an httpx client, psycopg pools...) keyed
    by whatever identifies them; `closers` are awaited when the worker shuts down.
    """

    credentials: Any = None  # resolves a credential name to its data (see tools/secrets)
    results: Any = None  # result store for reference-first results
    children: Any = None  # starts and awaits child executions (playbook tool)
    inline_limit: int = 64 * 1024
    masks: SecretMasks = field(default_factory=SecretMasks)  # secrets revealed, per execution
    pools: dict[str, Any] = field(default_factory=dict)
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    async def aclose(self) -> None:
        """Close every pooled client."""
        while self.closers:
            await self.closers.pop()()


@dataclass
class ToolContext:
    """Everything about the running task that is not its config."""

    execution_id: str
    step: str
    task: str
    attempt: int
    playbook: PlaybookDef
    scope: Mapping[str, Any]  # the template scope the config was rendered with
    resources: Resources
    iteration: int | None = None
    timeout: float | None = None  # seconds left for this task, when bounded
    # Runs another task definition (workbook tool) with the same machinery as the pipeline.
    run_task: Callable[[TaskDef, Mapping[str, Any]], Awaitable[Any]] | None = None


class Tool(Protocol):
    """A tool kind."""

    kind: ClassVar[str]

    async def run(self, config: Mapping[str, Any], ctx: ToolContext) -> Any:
        """Run one task attempt; return its result or raise ToolError."""
        ...
