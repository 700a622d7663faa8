"""`kind: playbook`: run another playbook as a child execution; its result is the task's result.

Fields: `path` (a playbook file relative to the parent playbook's file, or a catalog path: the
one rule of `noetl.dsl.locate`),
`version` (catalog version; latest when absent), `args` (the child's payload). The child runs as
its own execution with `parent_execution_id`; a failed or cancelled child is an error outcome.
While the child runs, the task lends its worker slot (`slot_lent`): the child's commands, and
those of other children, need slots of the same pools.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from noetl.errors import ToolError
from noetl.tools.base import ToolContext, slot_lent


class PlaybookTool:
    """Child executions through `Resources.children`."""

    kind: ClassVar[str] = "playbook"

    async def run(self, config: Mapping[str, Any], ctx: ToolContext) -> Any:
        """Start the child and wait for its result."""
        where = f"step '{ctx.step}' task '{ctx.task}'"
        path = config.get("path")
        if not isinstance(path, str) or not path:
            raise ToolError(f"{where} field 'path': a playbook path is required", kind="config")
        version = config.get("version")
        if version is not None and not isinstance(version, int):
            raise ToolError(f"{where} field 'version': must be an integer", kind="config")
        args = config.get("args") or {}
        if not isinstance(args, Mapping):
            raise ToolError(f"{where} field 'args': must be a mapping", kind="config")
        children = ctx.resources.children
        if children is None:
            raise ToolError(f"{where}: this runtime cannot start child playbooks", kind="config")
        async with slot_lent():
            return await children.run(
                path=path,
                version=version,
                args=dict(args),
                parent_execution_id=ctx.execution_id,
                base_file=ctx.playbook.source_file,
            )


def child_result(path: str, child: str, status: str, result: Any, error: Any) -> Any:
    """A finished child's result; ToolError naming the child and why when it did not succeed."""
    if status == "done":
        return result
    details = error if isinstance(error, Mapping) else {}
    message = details.get("message") or details.get("reason") or status
    raise ToolError(
        f"child playbook '{path}' (execution {child}) {status}: {message}", kind="playbook"
    )
