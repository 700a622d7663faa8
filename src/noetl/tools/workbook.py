"""`workbook`: run a named task of the playbook's `workbook` section.

Config: `name` (the workbook task) and the task's `args`, which become that task's `args` scope.
The worker pipeline runs it (`ToolContext.run_task`) with its own eval rules as a one-task
pipeline, so retries and set_ctx in the workbook definition behave as they do in a step.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from noetl.errors import ToolError
from noetl.tools.base import ToolContext


class WorkbookTool:
    """Calls `playbook.workbook[name]` with the task's args."""

    kind: ClassVar[str] = "workbook"

    async def run(self, config: Mapping[str, Any], ctx: ToolContext) -> Any:
        """Run the named workbook task; its result is this task's result."""
        where = f"step '{ctx.step}' task '{ctx.task}'"
        name = config.get("name")
        task = ctx.playbook.workbook.get(name) if isinstance(name, str) else None
        if task is None:
            known = ", ".join(sorted(ctx.playbook.workbook)) or "none"
            raise ToolError(
                f"{where}: unknown workbook task {name!r} (known: {known})", kind="config"
            )
        if ctx.run_task is None:
            raise ToolError(f"{where}: workbook tasks run only inside a worker", kind="config")
        return await ctx.run_task(task, config.get("args") or {})
