"""Routing the newer NoETL infers from the graph, made explicit: steps without `next` go to
`end` when a step `end` exists, and where branches of an inclusive fan-out meet, the step
waits for all of them (`spec.join: all`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from noetl.dsl.importer.context import Conversion

_END = "end"


def _targets(step: Mapping[str, Any]) -> list[str]:
    nxt = step.get("next")
    if isinstance(nxt, str):
        return [nxt]
    if not isinstance(nxt, list):
        return []
    return [
        str(a if isinstance(a, str) else a.get("step")) for a in nxt if isinstance(a, str | Mapping)
    ]


def implicit_end(workflow: list[Any], conv: Conversion) -> None:
    """A step with no `next` routes to `end` (when the playbook has a step `end`)."""
    names = {s.get("step") for s in workflow if isinstance(s, Mapping)}
    if _END not in names:
        return
    for i, step in enumerate(workflow):
        if isinstance(step, dict) and step.get("step") != _END and not step.get("next"):
            step["next"] = [{"step": _END}]
            conv.note(("workflow", i, "next"), "no 'next' in the NoETL form: routes to 'end'")


def inferred_joins(workflow: list[Any], conv: Conversion) -> None:
    """Mark `join: all` on each step where two branches of an inclusive fan-out meet."""
    meets = _meeting_points({s.get("step"): s for s in workflow if isinstance(s, Mapping)})
    for i, step in enumerate(workflow):
        if isinstance(step, dict) and step.get("step") in meets:
            spec = step.setdefault("spec", {})
            if isinstance(spec, dict) and "join" not in spec:
                spec["join"] = "all"
                conv.note(
                    ("workflow", i, "spec", "join"),
                    "inferred: inclusive branches meet "
                    "here, so the step waits for all of them (NoETL's implicit AND-join)",
                )


def _meeting_points(steps: Mapping[Any, Mapping[str, Any]]) -> set[str]:
    """Steps with two or more incoming arcs reached from two branches of an inclusive step."""
    incoming: dict[str, int] = {}
    for step in steps.values():
        for target in _targets(step):
            incoming[target] = incoming.get(target, 0) + 1
    meets: set[str] = set()
    for step in steps.values():
        spec = step.get("spec")
        inclusive = isinstance(spec, Mapping) and spec.get("next_mode") == "inclusive"
        branches = _targets(step)
        if not inclusive or len(branches) < 2:
            continue
        reached = [_reach(branch, steps) for branch in branches]
        for name in set().union(*reached):
            if incoming.get(name, 0) >= 2 and sum(name in r for r in reached) >= 2:
                meets.add(name)
    return meets


def _reach(start: str, steps: Mapping[Any, Mapping[str, Any]]) -> set[str]:
    seen = {start}
    stack = [start]
    while stack:
        step = steps.get(stack.pop())
        for target in _targets(step) if step is not None else []:
            if target not in seen:
                seen.add(target)
                stack.append(target)
    return seen
