"""Writing an imported document as canonical v2 YAML, with a comment at every place where the
conversion is not word for word, and the original file's leading comments kept.

ruamel.yaml writes the text: it keeps key order, writes multi-line strings (code, SQL) as
literal blocks and lets comments be attached to keys.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import LiteralScalarString

from noetl.dsl.check import DocPath
from noetl.dsl.importer.context import Note

_INDENT = 2


def to_yaml(data: Any, notes: list[Note], *, header: str = "") -> str:
    """Canonical YAML text of `data`: `header` (comment lines) first, then the document with
    one `# import: ...` comment per note, above the node it is about."""
    tree = _commented(data)
    for note in notes:
        _attach(tree, note.path, f"import: {note.message}")
    yaml = YAML()
    yaml.indent(mapping=_INDENT, sequence=_INDENT * 2, offset=_INDENT)
    yaml.width = 100
    out = io.StringIO()
    yaml.dump(tree, out)
    return header + out.getvalue()


def leading_comments(text: str) -> str:
    """The comment lines (and blank lines between them) that open `text`."""
    lines: list[str] = []
    for line in text.splitlines(keepends=True):
        if line.lstrip().startswith("#") or (lines and not line.strip()):
            lines.append(line)
        else:
            break
    while lines and not lines[-1].strip():
        lines.pop()
    return "".join(lines) + ("\n" if lines else "")


def _commented(value: Any) -> Any:
    if isinstance(value, Mapping):
        out = CommentedMap()
        for key, item in value.items():
            out[key] = _commented(item)
        return out
    if isinstance(value, list):
        return CommentedSeq(_commented(item) for item in value)
    # trailing spaces cannot be kept in a literal block: such text stays quoted
    if isinstance(value, str) and "\n" in value and not _trailing_spaces(value):
        return LiteralScalarString(value)
    return value


def _trailing_spaces(text: str) -> bool:
    return any(line != line.rstrip() for line in text.splitlines())


def _attach(tree: Any, path: DocPath, message: str) -> None:
    """Put `message` above the key that `path` ends with (or above the nearest parent key)."""
    for end in range(len(path), 0, -1):
        parent = _node(tree, path[: end - 1])
        key = path[end - 1]
        if isinstance(parent, CommentedMap) and key in parent:
            column = _INDENT * _depth(path[: end - 1])
            parent.yaml_set_comment_before_after_key(key, before=message, indent=column)
            return
        if isinstance(parent, CommentedSeq) and isinstance(key, int) and key < len(parent):
            column = _INDENT * _depth(path[: end - 1]) + _INDENT
            parent.yaml_set_comment_before_after_key(key, before=message, indent=column)
            return
    if isinstance(tree, CommentedMap) and tree:
        tree.yaml_set_comment_before_after_key(next(iter(tree)), before=message, indent=0)


def _node(tree: Any, path: DocPath) -> Any:
    node = tree
    for seg in path:
        try:
            node = node[seg]
        except (KeyError, IndexError, TypeError):
            return None
    return node


def _depth(path: DocPath) -> int:
    """Indentation level of the keys of the node at `path` (a sequence adds two levels)."""
    return sum(2 if isinstance(seg, int) else 1 for seg in path)
