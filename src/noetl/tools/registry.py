"""Tool registry: tool kind -> the `Tool` that runs it.

Built-in kinds are listed as `module:Class` and imported on first use, so drivers (httpx,
psycopg, duckdb) load only when a playbook needs them. Plugins add kinds through the
`noetl.tools` entry-point group (entry-point name = kind, value = `module:Class`); a plugin
cannot replace a built-in kind. Tools are created once and reused.
"""

from __future__ import annotations

import importlib
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from noetl.errors import ToolError
from noetl.tools.base import Tool

BUILTIN_TOOLS: dict[str, str] = {
    "noop": "noetl.tools.noop:NoopTool",
    "python": "noetl.tools.python:PythonTool",
    "workbook": "noetl.tools.workbook:WorkbookTool",
    "http": "noetl.tools.http:HttpTool",
    "postgres": "noetl.tools.postgres:PostgresTool",
    "duckdb": "noetl.tools.duckdb:DuckdbTool",
    "secrets": "noetl.tools.secrets:SecretsTool",
    "playbook": "noetl.tools.playbook:PlaybookTool",
}
ENTRY_POINT_GROUP = "noetl.tools"

_tools: dict[str, Tool] = {}
_plugins: dict[str, EntryPoint] | None = None


def get_tool(kind: str) -> Tool:
    """The tool for `kind` (created once). Unknown kind -> ToolError(kind="config")."""
    tool = _tools.get(kind)
    if tool is None:
        tool = _tools[kind] = _load(kind)
    return tool


def known_kinds() -> list[str]:
    """Every kind a task may use: the built-ins and the installed plugins."""
    return sorted(set(BUILTIN_TOOLS) | set(_plugin_entry_points()))


def _load(kind: str) -> Tool:
    target = BUILTIN_TOOLS.get(kind)
    if target is not None:
        return _instantiate(kind, _import_builtin(kind, target))
    entry_point = _plugin_entry_points().get(kind)
    if entry_point is None:
        raise ToolError(
            f"unknown tool kind {kind!r} (known: {', '.join(known_kinds())})", kind="config"
        )
    try:
        loaded = entry_point.load()
    except Exception as exc:
        raise ToolError(
            f"tool kind {kind!r}: plugin {entry_point.value} failed to load: {exc}", kind="config"
        ) from exc
    return _instantiate(kind, loaded)


def _import_builtin(kind: str, target: str) -> Any:
    """Import `module:Class`; when the class has another name, take the module's class whose
    `kind` attribute is `kind` (tool modules are written independently of this table)."""
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ToolError(
            f"tool kind {kind!r} is not available: {module_name} cannot be imported ({exc})",
            kind="config",
        ) from exc
    found = getattr(module, class_name, None)
    if found is not None:
        return found
    for value in vars(module).values():
        if isinstance(value, type) and getattr(value, "kind", None) == kind:
            return value
    raise ToolError(f"tool kind {kind!r}: {module_name} defines no tool class", kind="config")


def _instantiate(kind: str, loaded: Any) -> Tool:
    tool = loaded() if isinstance(loaded, type) else loaded
    if not callable(getattr(tool, "run", None)):
        raise ToolError(f"tool kind {kind!r}: {loaded!r} has no run() method", kind="config")
    return tool  # type: ignore[no-any-return]


def _plugin_entry_points() -> dict[str, EntryPoint]:
    global _plugins
    if _plugins is None:
        _plugins = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
    return _plugins
