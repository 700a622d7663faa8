"""Tool registry: tool kind -> the `Tool` that runs it.

The kinds are declared once, in `noetl.dsl.kinds`; this module maps them to implementations.
Built-in kind `k` is the class whose `kind` attribute is `k` in module `noetl.tools.k`, imported
on first use, so drivers (httpx, psycopg, duckdb) load only when a playbook needs them. Plugins
add kinds through the `noetl.tools` entry-point group (entry-point name = kind, value =
`module:Class`); a plugin cannot replace a built-in kind. Tools are created once and reused.
"""

from __future__ import annotations

import importlib
from importlib.metadata import EntryPoint
from typing import cast

from noetl.dsl.kinds import BUILTIN_KINDS, plugin_entry_points
from noetl.errors import ToolError
from noetl.tools.base import Tool

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
    return sorted(set(BUILTIN_KINDS) | set(_plugin_entry_points()))


def builtin_module(kind: str) -> str:
    """The module that implements built-in kind `kind`."""
    return f"noetl.tools.{kind}"


def _load(kind: str) -> Tool:
    if kind in BUILTIN_KINDS:
        return _instantiate(kind, _import_builtin(kind, builtin_module(kind)))
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


def _import_builtin(kind: str, module_name: str) -> type:
    """The class of `module_name` whose `kind` attribute is `kind`."""
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ToolError(
            f"tool kind {kind!r} is not available: {module_name} cannot be imported ({exc})",
            kind="config",
        ) from exc
    for value in vars(module).values():
        if isinstance(value, type) and getattr(value, "kind", None) == kind:
            return value
    raise ToolError(f"tool kind {kind!r}: {module_name} defines no tool class", kind="config")


def _instantiate(kind: str, loaded: object) -> Tool:
    tool = loaded() if isinstance(loaded, type) else loaded
    if not callable(getattr(tool, "run", None)):
        raise ToolError(f"tool kind {kind!r}: {loaded!r} has no run() method", kind="config")
    # Plugins are loaded by name, so their type is only known here: it has a callable run().
    return cast(Tool, tool)


def _plugin_entry_points() -> dict[str, EntryPoint]:
    global _plugins
    if _plugins is None:
        _plugins = plugin_entry_points()
    return _plugins
