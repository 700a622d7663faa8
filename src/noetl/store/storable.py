"""What an event can hold: JSON that every event store keeps exactly as given.

Python's `json` writes NaN and Infinity, a NUL character and a lone UTF-16 surrogate without
complaint, so the SQLite log keeps them, while PostgreSQL's JSONB refuses the whole append (and
strict JSON readers the NaN). Values that enter events from outside (a start's payload, a task's
inline result or captured output) are checked here, so both modes refuse the same values with
the same message where they enter, instead of an append failing later: a distributed worker's
report refused again and again, its command delivered anew for ever. Nesting is bounded too,
because the engine, the deep merge and the templates walk values recursively.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

MAX_DEPTH = 100  # levels of nested objects and lists in a payload or a result


def unstorable(value: Any, root: str) -> str | None:
    """Why `value` cannot be kept in an event, naming where (`root.a[0]: why`); None when it
    can. Walks without recursion, so any depth is measured and none crashes."""
    stack: list[tuple[Any, str, int]] = [(value, root, 0)]
    while stack:
        item, path, depth = stack.pop()
        if isinstance(item, str):
            why = text_problem(item)
        elif isinstance(item, float):
            why = None if math.isfinite(item) else f"{item} is not a JSON number"
        elif isinstance(item, (Mapping, list, tuple)):
            if depth >= MAX_DEPTH:
                return f"{_shown(path)}: nested deeper than {MAX_DEPTH} levels"
            children = _children(item, path)
            if isinstance(children, str):
                return children
            stack.extend((child, where, depth + 1) for where, child in reversed(children))
            continue
        else:
            continue
        if why is not None:
            return f"{_shown(path)}: {why}"
    return None


def text_problem(text: str) -> str | None:
    """Why `text` cannot be a JSON string in every store (None when it can)."""
    if "\x00" in text:
        return "holds a NUL character (\\u0000)"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "holds a lone UTF-16 surrogate, which is not Unicode text"
    return None


def _children(item: Any, path: str) -> list[tuple[str, Any]] | str:
    """`(path, child)` of each child of a container, or the problem of one of its keys."""
    if not isinstance(item, Mapping):
        return [(f"{path}[{index}]", child) for index, child in enumerate(item)]
    children = []
    for key, child in item.items():
        name = str(key)
        why = text_problem(name)
        if why is not None:
            return f"{_shown(path)}: the key {name!r} {why}"
        children.append((f"{path}.{name}", child))
    return children


def _shown(path: str, width: int = 80) -> str:
    """`path` as a message shows it: a deep one cut in the middle."""
    if len(path) <= width:
        return path
    return f"{path[: width // 2]}...{path[-width // 2 :]}"
