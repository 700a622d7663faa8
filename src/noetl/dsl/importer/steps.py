"""One NoETL workflow step -> one canonical step: tool or pipeline, `next.arcs` and their mode,
step and arc `set`, step `input`, loop placement hints and admission rules."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from noetl.dsl.check import DocPath
from noetl.dsl.importer.context import Conversion
from noetl.dsl.importer.cursor import convert_cursor_loop, drain, mapping, per_row
from noetl.dsl.importer.expressions import Names, rewrite_text, rewrite_value
from noetl.dsl.importer.rules import split_set
from noetl.dsl.importer.tasks import SQL_KINDS, convert_task
from noetl.dsl.scopes import STEP_SCOPES

_KEPT = ("step", "desc")
# Root names a step's templates keep as written: the canonical scopes, and `loop`.
_RESERVED_ROOTS = STEP_SCOPES | {"loop"}


def step_names(step: Mapping[str, Any], conv: Conversion) -> dict[str, str]:
    """Bare names a step's templates may use, and their canonical spelling."""
    roots = {key: f"workload.{key}" for key in conv.workload_keys}
    for name in conv.steps:
        roots.pop(name, None)  # a step's result wins over a workload key of the same name
    loop = step.get("loop")
    if isinstance(loop, Mapping):
        iterator = str(loop.get("iterator", "item"))
        roots[iterator] = f"iter.{iterator}"
        roots["loop_index"] = "iter.index"
    before = conv.predecessors.get(str(step.get("step")), frozenset())
    if len(before) == 1:  # NoETL's bare `result`: the result of the step that routed here
        roots["result"] = next(iter(before))
    for name in _RESERVED_ROOTS:
        roots.pop(name, None)
    return roots


def convert_step(
    step: Mapping[str, Any], old: DocPath, new: DocPath, conv: Conversion
) -> dict[str, Any]:
    """The canonical step for the NoETL step `step` found at `old`."""
    roots = step_names(step, conv)
    names = Names(roots, False, conv.steps - conv.loop_steps, conv.loop_steps, sql=conv.sql_steps)
    out: dict[str, Any] = {}
    spec: dict[str, Any] = {}
    for key in _KEPT:
        if key in step:
            out[key] = step[key]
            conv.place((*new, key), (*old, key))
    step_input = step.get("input")
    for key, value in step.items():
        if key in _KEPT or key == "input":
            continue
        handler = _HANDLERS.get(key)
        if handler is None:
            out[key] = rewrite_value(value, names)  # canonical or unknown: the validator judges
            conv.place((*new, key), (*old, key))
            continue
        handler(value, (*old, key), (*new, key), conv, names, out, spec, step_input)
    loop = step.get("loop")
    if isinstance(loop, Mapping) and "cursor" in loop:
        _cursor_loop(loop, (*old, "loop"), (*new, "loop"), conv, names, out)
    if spec:
        out["spec"] = {**out.get("spec", {}), **spec}
    return _in_canonical_order(out)


def _cursor_loop(
    loop: Mapping[str, Any],
    old: DocPath,
    new: DocPath,
    conv: Conversion,
    names: Names,
    out: dict[str, Any],
) -> None:
    """A cursor loop: the loop of drainers, and the step's pipeline wrapped to drain."""
    for key in sorted(set(loop) - {"cursor", "iterator", "spec"}):
        conv.refuse((*old, key), f"cannot convert loop field '{key}' beside 'loop.cursor'")
    spec = mapping(loop.get("spec"))
    for key in sorted(set(spec) - {"mode", "max_in_flight", "frame", "policy"}):
        conv.refuse((*old, "spec", key), f"cannot convert loop.spec field '{key}'")
    converted = convert_cursor_loop(loop, old, new, conv, names)
    if converted is None:
        return
    out["loop"], claim = converted
    tool = out.get("tool")
    label = None if isinstance(tool, list) else str(out.get("step"))
    pipeline = tool if isinstance(tool, list) else [{label: tool}] if tool else []
    rows = per_row(loop)
    out["tool"] = drain(pipeline, claim, str(loop.get("iterator", "item")), rows)
    # The step's own tasks moved down the pipeline: so do the notes and origins placed on them.
    conv.shift((*new[:-1], "tool"), 2 if rows else 1, label)


_STEP_ORDER = ("step", "desc", "when", "loop", "tool", "next", "spec", "set_ctx")


def _in_canonical_order(step: dict[str, Any]) -> dict[str, Any]:
    """The step's keys in the order the DSL documents them (unknown keys last)."""
    known = {key: step[key] for key in _STEP_ORDER if key in step}
    return {**known, **{key: value for key, value in step.items() if key not in known}}


def _tool(
    value: Any,
    old: DocPath,
    new: DocPath,
    conv: Conversion,
    names: Names,
    out: dict[str, Any],
    spec: dict[str, Any],
    step_input: Any,
) -> None:
    conv.place(new, old)
    if isinstance(value, list):
        out["tool"] = _pipeline(value, old, new, conv, names, step_input)
    elif isinstance(value, Mapping):
        label = str(out.get("step", ""))
        task, _ = convert_task(_with_input(value, step_input), old, new, conv, names, label)
        out["tool"] = task
    else:
        out["tool"] = value


def _pipeline(
    entries: list[Any], old: DocPath, new: DocPath, conv: Conversion, names: Names, step_input: Any
) -> list[Any]:
    pipeline: list[Any] = []
    roots = dict(names.roots)
    sql = set(names.sql)
    for i, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            pipeline.append(entry)
            continue
        if "kind" in entry:
            label = str(entry.get("name") or f"task_{i + 1}")
            task_old: DocPath = (*old, i)
            entry = {key: value for key, value in entry.items() if key != "name"}
        elif len(entry) == 1:  # already a canonical `label: task` entry
            label = str(next(iter(entry)))
            task_old, entry = (*old, i, label), entry[label]
            if not isinstance(entry, Mapping):
                pipeline.append({label: entry})
                continue
        else:
            conv.refuse(
                (*old, i), "a pipeline entry is {name, kind, ...} or {label: {kind}}", key=False
            )
            continue
        task_new: DocPath = (*new, i, label)
        conv.place((*new, i), (*old, i))
        conv.place(task_new, task_old)
        if entry.get("kind") in SQL_KINDS:
            sql.add(label)
        task_names = Names(roots, False, names.steps, names.loop_steps, sql=frozenset(sql))
        task, defined = convert_task(
            _with_input(entry, step_input), task_old, task_new, conv, task_names, label
        )
        pipeline.append({label: task})
        roots[label] = f"results.{label}"
        roots.update(defined)
    return pipeline


def own_names(names: Names, step: str) -> Names:
    """Names after the step ran (its `set`, its arcs): bare `result` and `output` are the
    step's own result."""
    return Names(
        {**names.roots, "result": step},
        False,
        names.steps,
        names.loop_steps,
        step,
        names.sql | ({"output"} if step in names.sql else set()),
    )


def _with_input(task: Mapping[str, Any], step_input: Any) -> Mapping[str, Any]:
    """A step-level `input` is the default input of each of its tasks."""
    if not isinstance(step_input, Mapping):
        return task
    own = task.get("input")
    merged = {**step_input, **(own if isinstance(own, Mapping) else {})}
    return {**task, "input": merged}


def _next(
    value: Any,
    old: DocPath,
    new: DocPath,
    conv: Conversion,
    names: Names,
    out: dict[str, Any],
    spec: dict[str, Any],
    step_input: Any,
) -> None:
    if not isinstance(value, Mapping):  # canonical list or name
        out["next"] = rewrite_value(value, names)
        conv.place(new, old)
        return
    for key in sorted(set(value) - {"spec", "arcs"}):
        conv.refuse((*old, key), f"cannot convert next field '{key}' (expected spec and arcs)")
    next_spec = value.get("spec") or {}
    if isinstance(next_spec, Mapping):
        for key, item in next_spec.items():
            if key == "mode":
                spec["next_mode"] = item
            elif key == "on_no_match" and item == "quiet":
                pass  # no arc matching ends the branch without a word here too: exact
            else:
                conv.refuse((*old, "spec", key), f"cannot convert next.spec field '{key}'")
    arcs = value.get("arcs") or []
    if not isinstance(arcs, list):
        conv.refuse((*old, "arcs"), "next.arcs must be a list of arcs")
        return
    own = own_names(names, str(out.get("step", "")))
    out["next"] = [_arc(arc, (*old, "arcs", i), (*new, i), conv, own) for i, arc in enumerate(arcs)]
    conv.place(new, (*old, "arcs"))


def _arc(arc: Any, old: DocPath, new: DocPath, conv: Conversion, names: Names) -> Any:
    conv.place(new, old)
    if not isinstance(arc, Mapping):
        return arc
    out: dict[str, Any] = {}
    for key, value in arc.items():
        conv.place((*new, key), (*old, key))
        if key == "set" and isinstance(value, Mapping):
            sets = split_set(value, (*old, key), conv, names)
            if "set_ctx" in sets:
                out["set_ctx"] = sets.pop("set_ctx")
                conv.place((*new, "set_ctx"), (*old, key))
            if sets:
                out.setdefault("args", {}).update(*sets.values())
                conv.note((*new, "args"), "arc 'set' of non-ctx names became the target's args")
        elif key in ("when", "args"):
            out[key] = rewrite_value(value, names)
        elif key == "step":
            out[key] = value
        else:
            conv.refuse((*old, key), f"cannot convert arc field '{key}'")
    return out


def _set(
    value: Any,
    old: DocPath,
    new: DocPath,
    conv: Conversion,
    names: Names,
    out: dict[str, Any],
    spec: dict[str, Any],
    step_input: Any,
) -> None:
    if not isinstance(value, Mapping):
        conv.refuse(old, "a step's 'set' must be a mapping of ctx.NAME: value")
        return
    step = str(out.get("step", ""))
    sets = split_set(value, old, conv, own_names(names, step))
    for scope in sorted(set(sets) - {"set_ctx"}):
        conv.refuse(old, f"a step's 'set' can only set ctx.NAME (found a {scope[4:]} name)")
    if "set_ctx" in sets:
        out["set_ctx"] = sets["set_ctx"]
        conv.place((*new[:-1], "set_ctx"), old)


def _loop(
    value: Any,
    old: DocPath,
    new: DocPath,
    conv: Conversion,
    names: Names,
    out: dict[str, Any],
    spec: dict[str, Any],
    step_input: Any,
) -> None:
    conv.place(new, old)
    if not isinstance(value, Mapping):
        out["loop"] = value
        return
    if "cursor" in value:
        return  # a cursor loop changes the step's pipeline too: see `_cursor_loop`
    loop = {key: item for key, item in value.items() if key != "spec"}
    if "in" in loop:
        loop["in"] = rewrite_value(loop["in"], names)
    loop_spec = value.get("spec")
    if isinstance(loop_spec, Mapping):
        loop["spec"] = _loop_spec(loop_spec, (*old, "spec"), (*new, "spec"), conv, names)
    elif loop_spec is not None:
        loop["spec"] = loop_spec
    out["loop"] = loop


def _loop_spec(
    value: Mapping[str, Any], old: DocPath, new: DocPath, conv: Conversion, names: Names
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key == "policy" and isinstance(item, Mapping) and set(item) <= {"exec", "results"}:
            conv.note(new, "placement hint 'policy.exec' dropped: every worker runs iterations")
        elif key == "max_in_flight":
            out[key] = rewrite_value(item, names)
        elif key == "mode":
            out[key] = item
        else:
            conv.refuse((*old, key), f"cannot convert loop.spec field '{key}'")
    return out


def _output(
    value: Any,
    old: DocPath,
    new: DocPath,
    conv: Conversion,
    names: Names,
    out: dict[str, Any],
    spec: dict[str, Any],
    step_input: Any,
) -> None:
    conv.note(
        new[:-1],
        "step 'output' (result storage hints) dropped: results over the "
        "inline limit go to the result store by reference",
    )


def _step_spec(
    value: Any,
    old: DocPath,
    new: DocPath,
    conv: Conversion,
    names: Names,
    out: dict[str, Any],
    spec: dict[str, Any],
    step_input: Any,
) -> None:
    if not isinstance(value, Mapping):
        out["spec"] = value
        return
    conv.place(new, old)
    for key, item in value.items():
        if key == "policy" and isinstance(item, Mapping) and set(item) == {"admit"}:
            out["when"] = _admit(item["admit"], (*old, key, "admit"), conv, names)
            conv.place((*new[:-1], "when"), (*old, key))
        else:
            spec[key] = item
            conv.place((*new, key), (*old, key))


def _admit(admit: Any, old: DocPath, conv: Conversion, names: Names) -> Any:
    """Admission rules (`when` -> `then.allow`, `else`) -> one guard expression."""
    rules = admit.get("rules") if isinstance(admit, Mapping) else None
    if not isinstance(rules, list):
        conv.refuse(old, "spec.policy.admit needs a list of rules")
        return None
    expr = "true"
    for rule in reversed(rules):
        then = rule.get("then") if "else" not in rule else (rule["else"] or {}).get("then")
        allow = "true" if isinstance(then, Mapping) and then.get("allow") else "false"
        if "else" in rule:
            expr = allow
            continue
        cond = rewrite_text(str(rule.get("when", "false")), names)
        inner = cond.strip()
        if inner.startswith("{{") and inner.endswith("}}"):
            inner = inner[2:-2].strip()
        expr = f"({allow} if ({inner}) else {expr})"
    return "{{ " + expr + " }}"


_HANDLERS = {
    "tool": _tool,
    "next": _next,
    "set": _set,
    "loop": _loop,
    "output": _output,
    "spec": _step_spec,
}
