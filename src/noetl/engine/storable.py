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
    can."""
    found = unstorable_at(value)
    if found is None:
        return None
    path, why = found
    return f"{_shown(root + _dotted(path))}: {why}"


def unstorable_at(value: Any) -> tuple[tuple[str | int, ...], str] | None:
    """`(path inside value, why)` of the first part of `value` no event can keep (a mapping
    key is a str, a list index an int; a bad key is its mapping's problem), None when every
    part can. Walks without recursion, so any depth is measured and none crashes."""
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(value, ())]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            why = text_problem(item)
        elif isinstance(item, float):
            why = None if math.isfinite(item) else f"{item} is not a JSON number"
        elif isinstance(item, (Mapping, list, tuple)):
            if len(path) >= MAX_DEPTH:
                return path, f"nested deeper than {MAX_DEPTH} levels"
            children = _children(item)
            if isinstance(children, str):
                return path, children
            stack.extend((child, (*path, where)) for where, child in reversed(children))
            continue
        else:
            continue
        if why is not None:
            return path, why
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


def _children(item: Any) -> list[tuple[str | int, Any]] | str:
    """`(key or index, child)` of each child of a container, or the problem of one of its
    keys."""
    if not isinstance(item, Mapping):
        return list(enumerate(item))
    children: list[tuple[str | int, Any]] = []
    for key, child in item.items():
        name = str(key)
        why = text_problem(name)
        if why is not None:
            return f"the key {name!r} {why}"
        children.append((name, child))
    return children


def _dotted(path: tuple[str | int, ...]) -> str:
    """`("a", 0)` -> `.a[0]`."""
    return "".join(f"[{seg}]" if isinstance(seg, int) else f".{seg}" for seg in path)


def _shown(path: str, width: int = 80) -> str:
    """`path` as a message shows it: a deep one cut in the middle."""
    if len(path) <= width:
        return path
    return f"{path[: width // 2]}...{path[-width // 2 :]}"
