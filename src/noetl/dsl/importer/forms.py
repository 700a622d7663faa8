"""Which form a playbook document is written in: canonical v2, NoETL's newer form, or v1.

The form is read from constructs only the older forms use (the newer NoETL form still says
`apiVersion: noetl.io/v2`). A document mixing v1 constructs with v2 ones in the same step is
half converted: that is reported, not guessed.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from noetl.dsl.check import DocPath

Form = Literal["canonical", "noetl", "v1"]

_V1_STEP_KEYS = frozenset({"type", "with", "case", "data"})
_NOETL_STEP_KEYS = frozenset({"set", "input", "output"})
_NOETL_TASK_KEYS = frozenset(
    {
        "input",
        "spec",
        "libs",
        "script",
        "command",
        "commands",
        "credential",
        "set",
        "return_step",
        "pool",
        "endpoint",
        "payload",
        "retry",
        "output_select",
        "assert",
    }
)
_NOETL_ROOT_KEYS = frozenset({"keychain", "tracing"})


@dataclass(frozen=True)
class Marker:
    """One construct that tells the form, and where it is (original document path)."""

    form: Form
    path: DocPath
    what: str


def detect_form(doc: Any) -> tuple[Form, list[Marker]]:
    """The document's form and the markers that decided it (empty for canonical)."""
    if not isinstance(doc, Mapping):
        return "canonical", []
    markers = list(_markers(doc))
    if any(m.form == "v1" for m in markers):
        return "v1", [m for m in markers if m.form == "v1"]
    if markers:
        return "noetl", markers
    return "canonical", []


def half_converted(doc: Any) -> list[Marker]:
    """Steps that hold both a v1 `type` and a v2 `tool` (one marker per such step)."""
    found = []
    for i, step in enumerate(_steps(doc)):
        if "type" in step and "tool" in step:
            found.append(Marker("v1", ("workflow", i, "type"), "v1 'type' beside a v2 'tool'"))
    return found


def _steps(doc: Any) -> list[Mapping[str, Any]]:
    workflow = doc.get("workflow") if isinstance(doc, Mapping) else None
    if not isinstance(workflow, list):
        return []
    return [s if isinstance(s, Mapping) else {} for s in workflow]


def _markers(doc: Mapping[str, Any]) -> Iterator[Marker]:
    if doc.get("apiVersion") == "noetl.io/v1":
        yield Marker("v1", ("apiVersion",), "apiVersion noetl.io/v1")
    for key in sorted(_NOETL_ROOT_KEYS & set(doc)):
        yield Marker("noetl", (key,), f"root '{key}'")
    meta = doc.get("metadata")
    if isinstance(meta, Mapping) and isinstance(meta.get("version"), str):
        yield Marker("noetl", ("metadata", "version"), "a string metadata.version")
    for i, step in enumerate(_steps(doc)):
        yield from _step_markers(step, ("workflow", i))
    workbook = doc.get("workbook")
    for i, entry in enumerate(workbook if isinstance(workbook, list) else []):
        tool = entry.get("tool") if isinstance(entry, Mapping) else None
        if isinstance(tool, Mapping):
            yield from _task_markers(tool, ("workbook", i, "tool"))


def _step_markers(step: Mapping[str, Any], path: DocPath) -> Iterator[Marker]:
    for key in sorted(_V1_STEP_KEYS & set(step)):
        yield Marker("v1", (*path, key), f"v1 step field '{key}'")
    nxt = step.get("next")
    if isinstance(nxt, Mapping):
        yield Marker("noetl", (*path, "next"), "next as {spec, arcs}")
    elif isinstance(nxt, list) and any(isinstance(a, Mapping) and "then" in a for a in nxt):
        yield Marker("v1", (*path, "next"), "v1 next with when/then")
    for key in sorted(_NOETL_STEP_KEYS & set(step)):
        yield Marker("noetl", (*path, key), f"step field '{key}'")
    loop = step.get("loop")
    loop_spec = loop.get("spec") if isinstance(loop, Mapping) else None
    if isinstance(loop_spec, Mapping) and "policy" in loop_spec:
        yield Marker("noetl", (*path, "loop", "spec", "policy"), "loop.spec.policy")
    tool = step.get("tool")
    if isinstance(tool, Mapping):
        yield from _task_markers(tool, (*path, "tool"))
    elif isinstance(tool, list):
        for j, entry in enumerate(tool):
            if isinstance(entry, Mapping) and "kind" in entry:
                yield Marker("noetl", (*path, "tool", j), "a pipeline entry {name, kind}")


def _task_markers(task: Mapping[str, Any], path: DocPath) -> Iterator[Marker]:
    for key in sorted(_NOETL_TASK_KEYS & set(task)):
        yield Marker("noetl", (*path, key), f"task field '{key}'")
