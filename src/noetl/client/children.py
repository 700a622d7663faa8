"""Child executions (`playbook` tasks) of a distributed worker, started through the server."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from noetl.client.transport import ServerClient
from noetl.dsl.locate import locate
from noetl.errors import NotFoundError, PlaybookError, ToolError
from noetl.observe import tracing
from noetl.tools.playbook import child_result


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
        located = locate(path, version, base_file=base_file)
        inline = None if located.file is None else located.file.read_text(encoding="utf-8")
        try:
            child = await self.client.start(
                path=None if inline else path,
                version=version,
                playbook=inline,
                payload=dict(args),
                parent_execution_id=parent_execution_id,
                trace=tracing.current_traceparent() or None,  # the child joins the task's trace
            )
        except (NotFoundError, PlaybookError) as exc:
            raise ToolError(f"child playbook '{path}': {exc}", kind="config") from None
        summary = await self.client.wait(child, poll=self.poll)
        return child_result(path, child, summary["status"], summary["result"], summary["error"])
