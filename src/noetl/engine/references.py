"""Stored results as the control plane's templates see them.

A result larger than the inline limit is stored once and events carry its ResultRef
(`{"result_ref": {"store", "key", "size", "sha256", "content_type"}}`). The engine does no I/O,
so it cannot read one back: the shell does, before deciding. It knows at load time which step
results the playbook's control-plane templates read (`control_names`: step `when`, `loop.in`,
`loop.spec.max_in_flight`, arc `when`/`args`/`set_ctx`, step `set_ctx`), picks the references
an incoming event brings for them (`wanted`), loads them into `ExecutionState.loaded` and only
then hands the event to `decide`. Results are immutable (their key is their sha256), so a
replay that loads the same references decides the same.

`Loaded.admit` bounds what one execution pulls into the control plane: past the limit a
reference is recorded as `Unreadable`, and a template reading it fails naming the step, the
field and the size instead of seeing the reference or a wrong value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from noetl.engine import events as ev
from noetl.engine.definition import PlaybookDef
from noetl.engine.events import Event
from noetl.errors import TemplateError

REF_KEY = "result_ref"
_RESULT_EVENTS = frozenset({ev.STEP_DONE, ev.STEP_REUSED})


def is_ref(value: Any) -> TypeGuard[Mapping[str, Any]]:
    """True for a ResultRef wrapper (`{"result_ref": {...}}`)."""
    return isinstance(value, Mapping) and len(value) == 1 and REF_KEY in value


def ref_key(ref: Mapping[str, Any]) -> str:
    """The store key a ResultRef wrapper names (unique per content of one execution)."""
    return str(ref[REF_KEY]["key"])


def ref_size(ref: Mapping[str, Any]) -> int:
    """Bytes of the stored body a ResultRef wrapper names."""
    return int(ref[REF_KEY].get("size") or 0)


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A reference the shell did not load for the control plane, and why."""

    size: int
    reason: str


@dataclass(slots=True)
class Loaded:
    """Stored results loaded for the control plane's templates: store key -> value."""

    limit: int = 0  # bytes one execution may load; 0: none
    values: dict[str, Any] = field(default_factory=dict)
    size: int = 0  # bytes loaded so far

    def missing(self, refs: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        """The references among `refs` not decided yet (neither loaded nor refused)."""
        return [ref for ref in refs if ref_key(ref) not in self.values]

    def admit(self, ref: Mapping[str, Any]) -> bool:
        """Whether `ref` fits in what is left of the limit (refused ones are recorded)."""
        size = ref_size(ref)
        if self.limit > 0 and self.size + size <= self.limit:
            return True
        reason = (
            f"the control plane reads at most {self.limit} bytes of stored results per "
            f"execution (NOETL_CONTROL_READ_LIMIT) and {self.size} are in use"
        )
        self.values[ref_key(ref)] = Unreadable(size, reason)
        return False

    def put(self, ref: Mapping[str, Any], value: Any) -> None:
        """Record the value `ref` points at (loaded by the shell)."""
        self.values[ref_key(ref)] = value
        self.size += ref_size(ref)


def control_names(playbook: PlaybookDef) -> frozenset[str]:
    """Root names the playbook's control-plane templates read (cached per playbook)."""
    cached = _CONTROL.get(id(playbook))
    if cached is not None and cached[0] is playbook:
        return cached[1]
    names: set[str] = set()
    read = playbook.renderer.names
    for step in playbook.steps:
        names |= read([step.when, step.set_ctx])
        if step.loop is not None:
            names |= read([step.loop.in_, step.loop.max_in_flight])
        for arc in step.next:
            names |= read([arc.when, arc.args, arc.set_ctx])
    found = frozenset(_with_sources(playbook, names & set(playbook.by_name)))
    if len(_CONTROL) > 256:
        _CONTROL.clear()
    _CONTROL[id(playbook)] = (playbook, found)
    return found


_CONTROL: dict[int, tuple[PlaybookDef, frozenset[str]]] = {}


def _with_sources(playbook: PlaybookDef, named: set[str]) -> set[str]:
    """`named` plus the steps whose result a named routing step (no tools, no loop) may pass
    on as its own: the engine decides a routing step's end itself, so the reference must have
    been loaded when the step that produced it ended."""
    sources: dict[str, list[str]] = {}
    for step in playbook.steps:
        for arc in step.next:
            sources.setdefault(arc.step, []).append(step.name)
    found = set(named)
    pending = list(named)
    while pending:
        step = playbook.by_name[pending.pop()]
        if step.tasks or step.loop is not None:
            continue
        for source in sources.get(step.name, ()):
            if source not in found:
                found.add(source)
                pending.append(source)
    return found


def wanted(playbook: PlaybookDef, event: Event) -> list[Mapping[str, Any]]:
    """References `event` brings that control-plane templates may read: the result of a step
    (or of one of its loop iterations) whose name such a template reads."""
    if event.type not in _RESULT_EVENTS or event.step not in control_names(playbook):
        return []
    result = event.payload.get("result")
    return [result] if is_ref(result) else []


def readable(
    scope: dict[str, Any],
    names: Iterable[str],
    results: Mapping[str, Any],
    loaded: Loaded,
    where: str,
    template: str = "",
) -> dict[str, Any]:
    """`scope` with the step results that `names` read given as values, not references.

    Raises TemplateError naming `where`, the `template` and the step when a reference was not
    loaded."""
    at = (where, template)
    for name in names:
        value = results.get(name)
        if value is None or scope.get(name) is not value:
            continue  # not a step result, or a reserved name shadows it
        if is_ref(value):
            scope[name] = _value(value, loaded, name, at)
        elif isinstance(value, Mapping) and isinstance(value.get("results"), list):
            items = value["results"]
            if any(is_ref(item) for item in items):
                values = [_value(i, loaded, name, at) if is_ref(i) else i for i in items]
                scope[name] = {**value, "results": values}
    return scope


def _value(ref: Mapping[str, Any], loaded: Loaded, name: str, at: tuple[str, str]) -> Any:
    value = loaded.values.get(ref_key(ref), _NOT_LOADED)
    if isinstance(value, Unreadable):
        message = (
            f"the result of step '{name}' is stored by reference ({value.size} bytes) "
            f"and cannot be read here: {value.reason}"
        )
        raise TemplateError(message, where=at[0], template=at[1])
    if value is _NOT_LOADED:
        message = (
            f"the result of step '{name}' is stored by reference and was not loaded for the "
            "control plane"
        )
        raise TemplateError(message, where=at[0], template=at[1])
    return value


_NOT_LOADED = object()
