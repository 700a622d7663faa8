"""What a worker runs and where it gets it: `WorkItem` and the `CommandSource` port.

In embedded mode the source is the in-process control plane; in distributed mode it is the
server, reached through `noetl.client.source.RemoteSource`. The worker loop
(`noetl.worker.loop`) is the same code for both. While a command runs, `held_command()` names it
(a context variable): the server reveals a credential to a worker only for a command it holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Protocol

from noetl.bus.port import Pointer
from noetl.engine.commands import Command
from noetl.engine.definition import PlaybookDef
from noetl.engine.events import Event


@dataclass(frozen=True, slots=True)
class WorkItem:
    """What a worker needs to run one command."""

    playbook: PlaybookDef
    command: Command
    scope: dict[str, Any]
    digest: str = ""  # sha256 of the playbook source: remote workers cache playbooks by it
    lease: float | None = None  # handed off with a report: renew within this many seconds
    # The claim token: reports on this command echo it. A bearer secret, so kept out of repr
    # (an item in a log line or an error message must not reveal it).
    token: str = field(default="", repr=False)
    trace: str = ""  # W3C traceparent of the execution's span: the worker's spans join it


_held: ContextVar[WorkItem | None] = ContextVar("noetl_held_command", default=None)


class holding:  # lower case: read as a call, `with holding(item):`
    """Within this block (and the tasks and threads started in it), `item` is the command the
    code runs for. A class, not a generator context manager: it is entered on every command."""

    __slots__ = ("_item", "_token")

    def __init__(self, item: WorkItem) -> None:
        self._item = item

    def __enter__(self) -> None:
        self._token = _held.set(self._item)

    def __exit__(self, *exc: object) -> None:
        _held.reset(self._token)


def held_command() -> WorkItem | None:
    """The command the running code works for (set by the worker around its run), if any."""
    return _held.get()


class CommandSource(Protocol):
    """Where workers claim commands and report what happened."""

    async def claim(self, pointer: Pointer, attempt: int = 1) -> WorkItem | None:
        """The command to run, or None when it is finished, running elsewhere or unknown."""
        ...

    async def report(
        self, events: Sequence[Event], token: str, *, pool: str | None = None, take: int = 0
    ) -> list[WorkItem]:
        """Report a command's events with the `token` of its claim; up to `take` next commands
        of `pool` handed back."""
        ...

    async def renew(self, held: Sequence[tuple[str, str, str]]) -> None:
        """Keep the leases of held commands, as (execution id, command id, claim token); a
        command the token does not hold is refused (`NotHeldError`) and nothing is extended."""
        ...

    async def close(self) -> None:
        """Release what the source holds (connections). Idempotent."""
        ...
