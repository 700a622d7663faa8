"""Child executions started by `playbook` tasks: run by this process's control plane
(`LocalChildren`), or started through a server by a distributed worker (`RemoteChildren`)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from noetl.dsl.load import load_playbook
from noetl.engine.definition import PlaybookDef
from noetl.errors import NotFoundError, PlaybookError, ToolError
from noetl.runtime.control import ControlPlane

if TYPE_CHECKING:
    from noetl.runtime.server_client import ServerClient

PLAYBOOK_SUFFIXES = (".yaml", ".yml")


class LocalChildren:
    """Starts a child execution and waits for its end (a future, not a poll)."""

    def __init__(self, control: ControlPlane, catalog: Any = None) -> None:
        self.control = control
        self.catalog = catalog  # a CatalogStore, when the runtime has one

    async def run(
        self,
        *,
        path: str,
        version: int | None,
        args: Mapping[str, Any],
        parent_execution_id: str,
        base_file: str | None,
    ) -> Any:
        """The child's result; ToolError when it fails or is cancelled."""
        playbook, source = await self._resolve(path, version, base_file)
        child = await self.control.start(
            playbook, args, source=source, parent_execution_id=parent_execution_id
        )
        try:
            summary = await self.control.wait(child)
        except asyncio.CancelledError:
            # The parent's task was stopped (its execution ended): stop the child as well.
            await asyncio.shield(self.control.cancel(child, "parent execution ended"))
            raise
        return _child_result(path, child, summary.status, summary.result, summary.error)

    async def _resolve(
        self, path: str, version: int | None, base_file: str | None
    ) -> tuple[PlaybookDef, str]:
        file = _as_file(path, base_file)
        if file is not None and version is None:
            source = file.read_text(encoding="utf-8")
            return load_playbook(source, file=str(file)), source
        if self.catalog is None:
            raise ToolError(
                f"playbook '{path}' is not a file next to the parent and no catalog is open",
                kind="config",
            )
        try:
            entry = await self.catalog.get(path, version)
        except NotFoundError as exc:
            raise ToolError(str(exc), kind="config") from None
        return load_playbook(entry.source), entry.source


def _child_result(path: str, child: str, status: str, result: Any, error: Any) -> Any:
    """A finished child's result; ToolError naming the child and why when it did not succeed."""
    if status == "done":
        return result
    details = error if isinstance(error, Mapping) else {}
    message = details.get("message") or details.get("reason") or status
    raise ToolError(
        f"child playbook '{path}' (execution {child}) {status}: {message}", kind="playbook"
    )


def _as_file(path: str, base_file: str | None) -> Path | None:
    """`path` as a playbook file relative to the parent's file (or the working directory)."""
    candidate = Path(path)
    if not candidate.is_absolute() and base_file is not None:
        candidate = Path(base_file).parent / candidate
    if candidate.suffix in PLAYBOOK_SUFFIXES or candidate.is_file():
        return candidate if candidate.is_file() else None
    return None


class RemoteChildren:
    """Child executions (`playbook` tasks) of a distributed worker, started through the server.

    A path naming a playbook file next to the parent's file (on this machine) is sent inline;
    anything else is a catalog path the server resolves.
    """

    def __init__(self, client: ServerClient, *, poll: float = 0.1) -> None:
        self.client = client
        self.poll = poll

    async def run(
        self,
        *,
        path: str,
        version: int | None,
        args: Mapping[str, Any],
        parent_execution_id: str,
        base_file: str | None,
    ) -> Any:
        """The child's result; ToolError when it fails, is cancelled or cannot start."""
        file = _as_file(path, base_file)
        inline = file.read_text(encoding="utf-8") if version is None and file is not None else None
        try:
            child = await self.client.start(
                path=None if inline else path,
                version=version,
                playbook=inline,
                payload=dict(args),
                parent_execution_id=parent_execution_id,
            )
        except (NotFoundError, PlaybookError) as exc:
            raise ToolError(f"child playbook '{path}': {exc}", kind="config") from None
        summary = await self.client.wait(child, poll=self.poll)
        return _child_result(path, child, summary["status"], summary["result"], summary["error"])
