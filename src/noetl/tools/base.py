"""The tool port: what a tool kind implements and what it is given.

A tool receives its task's config already rendered (templates resolved, `args` included) and a
`ToolContext`. It returns the task's result (any JSON-friendly value) or raises
`noetl.errors.ToolError` (kind, message, retryable, code, status_code); the worker turns both
into the outcome envelope that `eval` rules see. Drivers are imported inside the tool module,
never at registry load time, so the embedded install stays light.

The services a tool may use are seams: the embedded and the distributed runtime plug different
objects into them (`CredentialResolver`: the local credential store or the server's API;
`ChildRunner`: this process's control plane or the server). Both are declared here, by what
tools consume, with the `WorkerSlot` a task runs in: a tool that only waits for work needing a
slot of its own (a child execution) lends its slot meanwhile (`slot_lent`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from noetl.engine.definition import PlaybookDef, TaskDef
from noetl.tools.masking import SecretMasks


class CredentialResolver(Protocol):
    """Resolves a credential name to its decrypted data.

    Tools do not call it directly: `noetl.tools.credentials.lookup_credential` does, and turns
    every failure into one kind of error.
    """

    async def get(self, name: str) -> Mapping[str, Any]:
        """The credential's data; `CredentialError` or `NotFoundError` when it has none."""
        ...


class ChildRunner(Protocol):
    """Starts a child execution (`playbook` tasks) and waits for its end."""

    async def run(
        self,
        *,
        path: str,
        version: int | None,
        args: Mapping[str, Any],
        parent_execution_id: str,
        base_file: str | None,
    ) -> Any:
        """The child's result; `ToolError` when it fails, is cancelled or cannot start."""
        ...


class WorkerSlot(Protocol):
    """The worker slot the running task occupies (one of its pool's `concurrency`)."""

    def lent(self) -> AbstractAsyncContextManager[None]:
        """Within this block the slot is free for other work; after it, the task takes a slot
        back (waiting for one, before any new work is taken)."""
        ...


_slot: ContextVar[WorkerSlot | None] = ContextVar("noetl_worker_slot", default=None)


class occupying:  # lower case: read as a call, `with occupying(slot):`
    """Within this block (and the tasks it starts) the running code occupies `slot`. A class,
    not a generator context manager: it is entered on every command."""

    __slots__ = ("_slot", "_token")

    def __init__(self, slot: WorkerSlot) -> None:
        self._slot = slot

    def __enter__(self) -> None:
        self._token = _slot.set(self._slot)

    def __exit__(self, *exc: object) -> None:
        _slot.reset(self._token)


@asynccontextmanager
async def slot_lent() -> AsyncIterator[None]:
    """Lend the running task's worker slot for this block, in which the task only waits for
    work that needs a slot itself (a child execution): waiting parents would otherwise hold
    every slot their children need. Outside a worker, or nested, it lends nothing."""
    slot = _slot.get()
    if slot is None:
        yield
        return
    token = _slot.set(None)  # a wait inside this one has no slot left to lend
    try:
        async with slot.lent():
            yield
    finally:
        _slot.reset(token)


# eq=False, repr=False: a holder of live parts, compared by identity and never printed; each
# method @dataclass generates is compiled when `noetl run` starts (benchmarks/README.md).
@dataclass(eq=False, repr=False)
class Resources:
    """Per-worker shared services and pooled clients, created once and reused across tasks.

    `pools` is where tools keep their pooled clients (an httpx client, psycopg pools...) keyed
    by whatever identifies them; `closers` are awaited when the worker shuts down.
    """

    credentials: CredentialResolver | None = None  # named credentials (see tools/credentials)
    children: ChildRunner | None = None  # child executions (playbook tool)
    masks: SecretMasks = field(default_factory=SecretMasks)  # secrets revealed, per execution
    pools: dict[str, Any] = field(default_factory=dict)
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    async def aclose(self) -> None:
        """Close every pooled client."""
        while self.closers:
            await self.closers.pop()()


@dataclass(eq=False, repr=False)
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
