"""Reading a playbook's YAML with positions: every node's `line:col` (and every key's) goes
into a `Locator`, so later stages can point at `file:line:col`; duplicate keys are reported,
and alias bombs and recursive aliases are refused before the document is built.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from noetl.dsl.budget import limits
from noetl.dsl.check import DocPath, Locator, format_path
from noetl.errors import Problem

Source = str | Path | Mapping[str, Any]

_MERGE_TAG = "tag:yaml.org,2002:merge"


def read_source(source: Source, file: str | None) -> tuple[Any, Locator, list[Problem]]:
    """The document of `source` (a file, YAML text or a mapping, copied), the positions of
    its nodes and the problems found reading it; the document is None when unreadable."""
    if isinstance(source, Path):
        try:
            text = source.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None, Locator(file), [Problem("file not found", file=file)]
        except UnicodeDecodeError:
            return None, Locator(file), [Problem("file is not UTF-8 text", file=file)]
        except OSError as err:
            return None, Locator(file), [Problem(f"cannot read file: {err.strerror}", file=file)]
        return parse_yaml(text, file)
    if isinstance(source, str):
        return parse_yaml(source, file)
    if isinstance(source, Mapping):
        # a private copy, so the definition never aliases the caller's structure
        return copy.deepcopy(dict(source)), Locator(file), []
    raise TypeError(f"a playbook source is a Path, a YAML string or a mapping, not {source!r}")


# libyaml's loader (when PyYAML was built with it) parses ten times faster with the same marks.
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_yaml(text: str, file: str | None) -> tuple[Any, Locator, list[Problem]]:
    """Parse YAML `text`: the document, the positions of its nodes, and the problems (a syntax
    error, an alias bomb or a recursive alias leaves no document; duplicate keys do)."""
    where = Locator(file)
    problems: list[Problem] = []
    loader = _LOADER(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, where, []
        too_big = _expansion_problem(node, file)
        if too_big is not None:
            return None, where, [too_big]
        _walk(node, (), where, problems, yaml.constructor.SafeConstructor(), set())
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        what = " ".join(part for part in (err.context, err.problem) if part)
        return None, where, [_at_mark(f"invalid YAML: {what}", file, mark)]
    except yaml.YAMLError as err:
        return None, where, [Problem(f"invalid YAML: {err}", file=file)]
    except RecursionError:
        return None, where, [Problem("invalid YAML: the document is nested too deeply", file=file)]
    finally:
        loader.dispose()
    return data, where, problems


class _Expansion(Exception):
    """Found while sizing a document: `node` contains itself, or expands too far."""

    def __init__(self, node: yaml.Node, message: str) -> None:
        super().__init__(message)
        self.node = node


def _expansion_problem(root: yaml.Node, file: str | None) -> Problem | None:
    """A problem when the document, with every alias expanded, has more nodes than the limit
    (an alias bomb), or an alias refers to a node that contains it (a recursive alias).

    Each node is sized once (aliases share their node), so this takes time in the size of
    the text, not of the expansion.
    """
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    limit = limits().yaml_max_nodes

    def size(node: yaml.Node) -> int:
        if id(node) in sizes:
            return sizes[id(node)]
        if id(node) in open_nodes:
            raise _Expansion(
                node, "recursive alias: this anchored node contains an alias of itself"
            )
        open_nodes.add(id(node))
        children: list[yaml.Node] = []
        if isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        total = 1 + sum(size(child) for child in children)
        open_nodes.discard(id(node))
        if total > limit:
            raise _Expansion(
                node,
                f"with its aliases expanded this holds more than {limit} YAML nodes "
                "(NOETL_YAML_MAX_NODES): an alias bomb?",
            )
        sizes[id(node)] = total
        return total

    try:
        size(root)
    except _Expansion as found:
        return _at_mark(f"invalid YAML: {found}", file, found.node.start_mark)
    return None


def _at_mark(message: str, file: str | None, mark: Any) -> Problem:
    if mark is None:
        return Problem(message, file=file)
    return Problem(message, file=file, line=mark.line + 1, col=mark.column + 1)


def _walk(
    node: yaml.Node,
    path: DocPath,
    where: Locator,
    problems: list[Problem],
    keys: yaml.constructor.SafeConstructor,
    seen: set[int],
) -> None:
    """Record the position of every node under `node` and report duplicate keys."""
    where.values[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if id(node) in seen:  # an alias: its subtree was walked already (and may be recursive)
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        first_line: dict[Any, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG or not isinstance(key_node, yaml.ScalarNode):
                continue
            key = keys.construct_object(key_node)
            key_pos = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            child = (*path, key)
            if key in first_line:
                message = f"duplicate key '{key}' (first defined at line {first_line[key]})"
                problems.append(
                    Problem(message, format_path(child), where.file, key_pos[0], key_pos[1])
                )
            first_line.setdefault(key, key_pos[0])
            where.keys[child] = key_pos
            _walk(value_node, child, where, problems, keys, seen)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, (*path, i), where, problems, keys, seen)
