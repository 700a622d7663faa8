"""The tool registry: built-ins, plugins through entry points, caching, unknown kinds."""

from __future__ import annotations

import asyncio
from importlib.metadata import EntryPoint

import pytest

from noetl.dsl.kinds import BUILTIN_KINDS, KindSpec
from noetl.errors import ToolError
from noetl.tools import registry
from noetl.tools.noop import NoopTool
from noetl.tools.python import PythonTool
from noetl.tools.workbook import WorkbookTool
from support.tools import tool_context


@pytest.fixture
def fresh_registry(monkeypatch):
    """Isolate the registry's caches (and the installed plugins) from other tests."""
    monkeypatch.setattr(registry, "_tools", {})
    monkeypatch.setattr(registry, "_plugins", {})


def test_builtin_kinds_are_known():
    kinds = registry.known_kinds()
    for kind in ("noop", "python", "workbook", "http", "postgres", "duckdb", "secrets", "playbook"):
        assert kind in kinds


def test_builtins_resolve_to_their_classes_and_are_cached(fresh_registry):
    assert isinstance(registry.get_tool("noop"), NoopTool)
    assert isinstance(registry.get_tool("python"), PythonTool)
    assert isinstance(registry.get_tool("workbook"), WorkbookTool)
    assert registry.get_tool("noop") is registry.get_tool("noop")


def test_unknown_kind_is_a_config_error_listing_the_known(fresh_registry):
    with pytest.raises(ToolError) as info:
        registry.get_tool("telepathy")
    assert info.value.kind == "config"
    assert "unknown tool kind 'telepathy'" in info.value.message
    assert "noop" in info.value.message and "workbook" in info.value.message


def test_plugin_kind_from_an_entry_point(fresh_registry, monkeypatch):
    plugin = EntryPoint(name="echo", value="noetl.tools.noop:NoopTool", group="noetl.tools")
    monkeypatch.setattr(registry, "_plugins", {"echo": plugin})
    assert "echo" in registry.known_kinds()
    tool = registry.get_tool("echo")
    ctx = tool_context()
    assert asyncio.run(tool.run({"result": 5}, ctx)) == 5


def test_broken_plugin_is_a_config_error(fresh_registry, monkeypatch):
    plugin = EntryPoint(name="bad", value="noetl_missing_plugin:Tool", group="noetl.tools")
    monkeypatch.setattr(registry, "_plugins", {"bad": plugin})
    with pytest.raises(ToolError, match="plugin noetl_missing_plugin:Tool failed to load"):
        registry.get_tool("bad")


def test_builtin_whose_module_is_missing_is_a_config_error(fresh_registry, monkeypatch):
    kinds = {**registry.BUILTIN_KINDS, "ghost": KindSpec()}
    monkeypatch.setattr(registry, "BUILTIN_KINDS", kinds)
    with pytest.raises(ToolError, match="tool kind 'ghost' is not available") as info:
        registry.get_tool("ghost")
    assert info.value.kind == "config"
    assert "noetl.tools.ghost" in info.value.message


def test_every_declared_kind_has_a_tool_of_that_kind(fresh_registry):
    # The kinds are declared once (noetl.dsl.kinds); the registry derives the implementations.
    assert set(BUILTIN_KINDS) <= set(registry.known_kinds())
    for kind in BUILTIN_KINDS:
        tool = registry.get_tool(kind)
        assert type(tool).kind == kind
        assert type(tool).__module__ == registry.builtin_module(kind)
