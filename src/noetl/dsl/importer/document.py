"""A whole NoETL (newer form) document -> a canonical v2 document."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from noetl.dsl.importer.context import Conversion
from noetl.dsl.importer.expressions import Names
from noetl.dsl.importer.graph import implicit_end, inferred_joins
from noetl.dsl.importer.steps import convert_step
from noetl.dsl.importer.tasks import SQL_KINDS, convert_task

_CANONICAL_ROOT = ("apiVersion", "kind", "metadata", "executor", "workload", "workbook", "workflow")
_METADATA = frozenset({"name", "path", "version", "description", "labels"})
_NOTED_ROOT = {"tracing": "tracing settings are the runtime's own (OpenTelemetry); dropped"}


def convert_document(doc: Mapping[str, Any], conv: Conversion) -> dict[str, Any]:
    """The canonical document; refusals and notes are recorded in `conv`."""
    workflow = doc.get("workflow")
    steps = [s for s in workflow if isinstance(s, Mapping)] if isinstance(workflow, list) else []
    workload = doc.get("workload")
    conv.workload = workload if isinstance(workload, Mapping) else {}
    conv.workload_keys = frozenset(str(k) for k in conv.workload)
    conv.steps = frozenset(str(s.get("step")) for s in steps)
    conv.loop_steps = frozenset(str(s.get("step")) for s in steps if "loop" in s)
    conv.predecessors = _predecessors(steps)
    conv.sql_steps = frozenset(str(s.get("step")) for s in steps if _sql_step(s))
    out: dict[str, Any] = {}
    for key, value in doc.items():
        conv.place((key,), (key,))
        if key == "metadata" and isinstance(value, Mapping):
            out[key] = _metadata(value, conv)
        elif key == "executor" and isinstance(value, Mapping):
            out[key] = _executor(value, conv)
        elif key == "workbook" and isinstance(value, list):
            out[key] = [_workbook_entry(e, i, conv) for i, e in enumerate(value)]
        elif key == "workflow" and isinstance(value, list):
            out[key] = [
                convert_step(s, (key, i), (key, i), conv) if isinstance(s, Mapping) else s
                for i, s in enumerate(value)
            ]
        elif key in _NOTED_ROOT:
            conv.note((), f"'{key}': {_NOTED_ROOT[key]}")
        elif key in _CANONICAL_ROOT:
            out[key] = value
        else:
            conv.refuse((key,), f"cannot convert the root section '{key}'")
    if isinstance(out.get("workflow"), list):
        implicit_end(out["workflow"], conv)
        inferred_joins(out["workflow"], conv)
    return out


def _sql_step(step: Mapping[str, Any]) -> bool:
    """True when the step's result is a database result (its last task is postgres/duckdb)."""
    tool = step.get("tool")
    last = tool[-1] if isinstance(tool, list) and tool else tool
    if isinstance(last, Mapping) and "kind" not in last and len(last) == 1:
        last = next(iter(last.values()))
    return isinstance(last, Mapping) and last.get("kind") in SQL_KINDS


def _predecessors(steps: list[Mapping[str, Any]]) -> dict[str, frozenset[str]]:
    """Step name -> the steps with an arc to it (in the newer form's `next.arcs`)."""
    found: dict[str, set[str]] = {}
    for step in steps:
        nxt = step.get("next")
        arcs = nxt.get("arcs") if isinstance(nxt, Mapping) else nxt
        for arc in arcs if isinstance(arcs, list) else []:
            target = arc.get("step") if isinstance(arc, Mapping) else arc
            found.setdefault(str(target), set()).add(str(step.get("step")))
    return {name: frozenset(before) for name, before in found.items()}


def _metadata(meta: Mapping[str, Any], conv: Conversion) -> dict[str, Any]:
    out = {key: value for key, value in meta.items() if key in _METADATA}
    labels = dict(out.get("labels") or {})
    version = meta.get("version")
    if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
        labels["version"] = str(version)
        out.pop("version")
        conv.note(("metadata", "labels"), "a non-integer version is kept as the label 'version'")
    for key, value in meta.items():
        if key not in _METADATA:
            labels[key] = value
            conv.note(("metadata", "labels"), f"metadata '{key}' is kept as a label")
    if labels:
        out["labels"] = labels
    return out


def _executor(executor: Mapping[str, Any], conv: Conversion) -> dict[str, Any]:
    spec = executor.get("spec")
    pool = spec.get("pool") if isinstance(spec, Mapping) else None
    dropped = sorted(set(executor) - {"kind", "spec"})
    if isinstance(spec, Mapping):
        dropped += [f"spec.{key}" for key in sorted(set(spec) - {"pool"})]
    if dropped:
        conv.note(
            ("executor",), "executor settings dropped (the runtime's own): " + ", ".join(dropped)
        )
    out: dict[str, Any] = {"kind": "auto"}
    if pool is not None:
        out["spec"] = {"pool": pool}
    return out


def _workbook_params(tool: dict[str, Any]) -> Mapping[str, Any]:
    """A workbook task's declared inputs: its `input`, or its `spec.input` (moved out of the
    spec, whose other keys stay the task's own fields)."""
    params = tool.get("input")
    spec = tool.get("spec")
    if params is None and isinstance(spec, Mapping) and isinstance(spec.get("input"), Mapping):
        params = spec["input"]
        tool["spec"] = {key: value for key, value in spec.items() if key != "input"}
    return params if isinstance(params, Mapping) else {}


def _workbook_entry(entry: Any, index: int, conv: Conversion) -> Any:
    """A workbook task: its `input` keys are the caller's args (`{{ args.NAME }}`)."""
    if not isinstance(entry, Mapping) or not isinstance(entry.get("tool"), Mapping):
        return entry
    old = ("workbook", index)
    tool = dict(entry["tool"])
    params = _workbook_params(tool)
    roots = {key: f"workload.{key}" for key in conv.workload_keys}
    roots.update({str(key): f"args.{key}" for key in params})
    if params:
        tool["input"] = {
            key: "{{ args." + str(key) + " }}" if value is None else value
            for key, value in params.items()
        }
    names = Names(roots, False, conv.steps - conv.loop_steps, conv.loop_steps)
    label = str(entry.get("name", ""))
    task, _ = convert_task(tool, (*old, "tool"), (*old, "tool"), conv, names, label)
    out = {key: value for key, value in entry.items() if key in ("name", "desc")}
    if "assert" in entry:
        conv.note(old, "'assert' (expects/returns) is documentation here; not enforced")
    for key in sorted(set(entry) - {"name", "desc", "tool", "assert"}):
        conv.refuse((*old, key), f"cannot convert workbook field '{key}'")
    out["tool"] = task
    return out
