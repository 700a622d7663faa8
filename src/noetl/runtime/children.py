"""Child executions started by `playbook` tasks and run by this process's control plane.

(A distributed worker starts them through the server: `noetl.client.children.RemoteChildren`.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from noetl.dsl.locate import load_located, locate
from noetl.engine.definition import PlaybookDef
from noetl.errors import NotFoundError, ToolError
from noetl.observe import tracing
from noetl.runtime.control import ControlPlane
from noetl.store.catalog import CatalogStore
from noetl.tools.playbook import child_result


class LocalChildren:
    """Starts a child execution and waits for its end (a future, not a poll)."""

    def __init__(self, control: ControlPlane, catalog: CatalogStore | None = None) -> None:
        self.control = control
        self.catalog = catalog

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
            playbook,
            args,
            source=source,
            parent_execution_id=parent_execution_id,
            trace=tracing.current_traceparent() or None,  # the child joins the task's trace
        )
        try:
            summary = await self.control.wait(child)
        except asyncio.CancelledError:
            # The parent's task was stopped (its execution ended): stop the child as well.
            await asyncio.shield(self.control.cancel(child, "parent execution ended"))
            raise
        return child_result(path, child, summary.status, summary.result, summary.error)

    async def _resolve(
        self, path: str, version: int | None, base_file: str | None
    ) -> tuple[PlaybookDef, str]:
        try:
            return await load_located(locate(path, version, base_file=base_file), self.catalog)
        except NotFoundError as exc:
            raise ToolError(str(exc), kind="config") from None
