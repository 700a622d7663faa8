"""The immutable playbook definition the engine and the workers run.

`noetl.dsl` builds it from YAML (validated with pydantic); nothing here knows about pydantic or
YAML. Template-bearing fields hold the raw values from the document (strings with `{{ }}`,
or dicts/lists of them); they are rendered through the playbook's `Renderer`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

EvalAction = Literal["continue", "retry", "jump", "break", "fail"]
Backoff = Literal["none", "fixed", "linear", "exponential"]
NextMode = Literal["exclusive", "inclusive"]
JoinMode = Literal["any", "all"]
LoopMode = Literal["sequential", "parallel"]


class Renderer(Protocol):
    """Renders template values against a scope (see `noetl.dsl.templates`)."""

    def render(self, value: Any, scope: Mapping[str, Any], *, where: str = "") -> Any:
        """Render `value` (a template string or a nested structure of them).

        Raises `noetl.errors.TemplateError` naming `where` and the missing name on failure.
        """
        ...

    def names(self, value: Any) -> set[str]:
        """Root names that the templates in `value` read (for loading referenced results)."""
        ...


@dataclass(frozen=True, slots=True)
class EvalRule:
    """One `eval` rule of a task. `expr is None` marks the `else` rule."""

    do: EvalAction
    expr: Any = None
    attempts: int = 3  # retry: total attempts of the task, the first one included
    backoff: Backoff = "none"
    delay: float = 0.0  # seconds; the base of the backoff
    to: str | None = None  # jump target (a task label of the same pipeline)
    set_ctx: Mapping[str, Any] = field(default_factory=dict)
    set_vars: Mapping[str, Any] = field(default_factory=dict)
    set_iter: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TaskDef:
    """One labelled task of a step's pipeline (or a workbook task).

    `config` holds the kind's own fields (e.g. `url`, `method` for http; `code` for python).
    """

    label: str
    kind: str
    config: Mapping[str, Any] = field(default_factory=dict)
    args: Mapping[str, Any] = field(default_factory=dict)
    eval: tuple[EvalRule, ...] = ()
    timeout: float | None = None  # seconds


@dataclass(frozen=True, slots=True)
class LoopDef:
    """`loop:` of a step: run the pipeline once per element of `in_`."""

    in_: Any
    iterator: str = "item"
    mode: LoopMode = "sequential"
    max_in_flight: int | str = 1  # parallel only (a template: rendered when the loop starts)


@dataclass(frozen=True, slots=True)
class Arc:
    """One `next` arc: fire a token on `step` when `when` holds, carrying rendered `args`."""

    step: str
    when: Any = None  # None: matches only when the source step succeeded
    args: Mapping[str, Any] = field(default_factory=dict)
    set_ctx: Mapping[str, Any] = field(default_factory=dict)  # applied when the arc fires


@dataclass(frozen=True, slots=True)
class StepDef:
    """One step of `workflow`: guard + pipeline + arcs."""

    name: str
    desc: str = ""
    when: Any = None  # None: always runs
    tasks: tuple[TaskDef, ...] = ()  # empty: a pure routing step
    loop: LoopDef | None = None
    next: tuple[Arc, ...] = ()
    next_mode: NextMode = "exclusive"
    join: JoinMode = "any"
    timeout: float | None = None  # seconds, per step run
    set_ctx: Mapping[str, Any] = field(default_factory=dict)  # applied on success, before routing

    def task_index(self, label: str) -> int:
        """Position of the task labelled `label` in the pipeline (KeyError if absent)."""
        for i, task in enumerate(self.tasks):
            if task.label == label:
                return i
        raise KeyError(label)


@dataclass(frozen=True, slots=True)
class PlaybookDef:
    """A loaded, validated playbook."""

    name: str
    steps: tuple[StepDef, ...]
    renderer: Renderer
    path: str = ""
    version: int | None = None
    api_version: str = "noetl.io/v2"
    description: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)
    executor: Mapping[str, Any] = field(default_factory=dict)
    workload: Mapping[str, Any] = field(default_factory=dict)
    workbook: Mapping[str, TaskDef] = field(default_factory=dict)
    source_file: str | None = None  # where it was loaded from, for relative paths and messages
    by_name: Mapping[str, StepDef] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.by_name:
            object.__setattr__(self, "by_name", {s.name: s for s in self.steps})

    @property
    def entry(self) -> str:
        """The entry step: the one named `start`, else the first."""
        return "start" if "start" in self.by_name else self.steps[0].name

    @property
    def pool(self) -> str:
        """Worker pool commands of this playbook are routed to."""
        spec = self.executor.get("spec") or {}
        return str(spec.get("pool") or "default")

    def step(self, name: str) -> StepDef:
        """The step called `name` (KeyError if absent)."""
        return self.by_name[name]
