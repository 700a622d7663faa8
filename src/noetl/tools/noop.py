"""`noop`: does nothing and returns its `result` field (None when absent)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from noetl.tools.base import ToolContext


class NoopTool:
    """Returns `config["result"]`; useful for routing steps, tests and benchmarks."""

    kind: ClassVar[str] = "noop"

    async def run(self, config: Mapping[str, Any], ctx: ToolContext) -> Any:
        """Return the task's `result` field."""
        return config.get("result")
