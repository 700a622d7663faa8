"""NoETL v1 -> the newer NoETL form (which `document` then turns into canonical v2).

The v1 -> v2 rules of the migration checklist: `type:` becomes `tool.kind` with the step's tool
fields moved under `tool`; `with:` (and `data:` outside http) becomes the task's input or an
arc's args; `next` items `{when, then: [...]}` / `{else: [...]}` / `{step, with}` become arcs
in order (exclusive, so the first match wins and an unguarded arc acts as the else).
`case` blocks (event-driven rules) are refused: they have no one-to-one counterpart.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from noetl.dsl.check import DocPath
from noetl.dsl.importer.context import Conversion

_STEP_FIELDS = frozenset({"step", "desc", "when", "loop", "next", "spec"})


def convert_v1(doc: Mapping[str, Any], conv: Conversion) -> dict[str, Any]:
    """The newer-form document for the v1 document `doc` (origins recorded in `conv`)."""
    out: dict[str, Any] = {}
    for key, value in doc.items():
        conv.place((key,), (key,))
        if key == "apiVersion":
            out[key] = "noetl.io/v2"
        elif key == "workflow" and isinstance(value, list):
            out[key] = [
                _step(s, (key, i), conv) if isinstance(s, Mapping) else s
                for i, s in enumerate(value)
            ]
        elif key == "workbook" and isinstance(value, list):
            out[key] = [_workbook_entry(e, (key, i), conv) for i, e in enumerate(value)]
        else:
            out[key] = value
    return out


def _step(step: Mapping[str, Any], path: DocPath, conv: Conversion) -> dict[str, Any]:
    if "case" in step:
        conv.refuse(
            (*path, "case"),
            "cannot convert a v1 'case' block (event-driven rules); "
            "rewrite it as next arcs and eval rules",
        )
    out: dict[str, Any] = {}
    tool: dict[str, Any] = {}
    for key, value in step.items():
        if key in _STEP_FIELDS - {"next"}:
            out[key] = value
            conv.place((*path, key), (*path, key))
        elif key == "next":
            out["next"] = _next(value, (*path, key), conv)
        elif key == "type":
            tool["kind"] = value
            conv.place((*path, "tool", "kind"), (*path, key))
        elif key == "with" or (key == "data" and step.get("type") != "http"):
            tool.setdefault("input", {}).update(value if isinstance(value, Mapping) else {})
            conv.place((*path, "tool", "input"), (*path, key))
        elif key != "case":
            tool[key] = value
            conv.place((*path, "tool", key), (*path, key))
    if tool:
        if "kind" not in tool:
            conv.refuse(path, "a v1 step with tool fields needs 'type'", key=False)
        out["tool"] = tool
        conv.place((*path, "tool"), (*path, "type"))
    return out


def _next(value: Any, path: DocPath, conv: Conversion) -> Any:
    if isinstance(value, str):
        return value
    if not isinstance(value, list):
        conv.refuse(path, "v1 'next' is a list", key=False)
        return []
    arcs: list[dict[str, Any]] = []
    for i, item in enumerate(value):
        for arc, old in _arcs(item, (*path, i), conv):
            conv.place((*path, "arcs", len(arcs)), old)
            arcs.append(arc)
    conv.place((*path, "arcs"), path)
    return {"spec": {"mode": "exclusive"}, "arcs": arcs}


def _arcs(item: Any, path: DocPath, conv: Conversion) -> list[tuple[dict[str, Any], DocPath]]:
    if isinstance(item, str):
        return [({"step": item}, path)]
    if not isinstance(item, Mapping):
        conv.refuse(path, "a v1 next item is a step name or a mapping", key=False)
        return []
    if "then" in item or "else" in item:
        branch = "then" if "then" in item else "else"
        targets = item[branch] if isinstance(item[branch], list) else [item[branch]]
        found = []
        for j, target in enumerate(targets):
            for arc, old in _arcs(target, (*path, branch, j), conv):
                if branch == "then" and "when" in item:
                    arc["when"] = item["when"]
                found.append((arc, old))
        return found
    single: dict[str, Any] = {"step": item.get("step")}
    if "when" in item:
        single["when"] = item["when"]
    args = item.get("with", item.get("data"))
    if isinstance(args, Mapping):
        single["args"] = dict(args)
    for key in sorted(set(item) - {"step", "when", "with", "data"}):
        conv.refuse((*path, key), f"cannot convert v1 next field '{key}'")
    return [(single, path)]


def _workbook_entry(entry: Any, path: DocPath, conv: Conversion) -> Any:
    if not isinstance(entry, Mapping) or "type" not in entry:
        return entry
    tool = {key: value for key, value in entry.items() if key not in ("name", "desc", "type")}
    tool["kind"] = entry["type"]
    if "with" in tool:
        tool["input"] = tool.pop("with")
    conv.place((*path, "tool"), path)
    return {"name": entry.get("name"), "desc": entry.get("desc", ""), "tool": tool}
