"""Pydantic models of the canonical v2 playbook DSL (DESIGN.md section 3).

These models only describe the *shape* of a playbook document: which keys exist, their types
and their literal values. Cross-references (step names, task labels, tool kinds, templates) are
checked by `noetl.dsl.check`, and `noetl.dsl.load` turns a validated `PlaybookModel` into the
engine's immutable `PlaybookDef`.

Every model forbids unknown keys, except a tool task: its extra keys are the kind's own fields
(`url`, `code`...), checked against `noetl.dsl.kinds` once the kind is known.

Where a field accepts two forms (one task or a pipeline; a step name or an arc), the union is
discriminated by a callable and each branch is tagged with a name in angle brackets. Those tags
show up in pydantic error locations; `TAGS` lets the loader drop them from document paths.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    WithJsonSchema,
    model_validator,
)

EvalActionName = Literal["continue", "retry", "jump", "break", "fail"]
BackoffName = Literal["none", "fixed", "linear", "exponential"]

TASK_TAG = "<task>"
PIPELINE_TAG = "<pipeline>"
NAME_TAG = "<name>"
ARC_TAG = "<arc>"
LIST_TAG = "<list>"
TAGS = frozenset({TASK_TAG, PIPELINE_TAG, NAME_TAG, ARC_TAG, LIST_TAG})

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def _in_flight(value: int | str) -> int | str:
    """`loop.spec.max_in_flight`: a whole number, or a template (rendered when the loop starts)."""
    if isinstance(value, str) and "{{" not in value:
        try:
            return int(value)
        except ValueError:
            raise ValueError(
                f"max_in_flight must be a whole number or a template, got {value!r}"
            ) from None
    return value


def parse_duration(value: Any) -> Any:
    """Turn "30s", "5m", "500ms", "1h" or a number of seconds into float seconds."""
    if isinstance(value, bool):
        raise ValueError("expected a duration like '30s', '5m', '500ms', '1h' or seconds")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"a duration cannot be negative, got {value}")
        return float(value)
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    raise ValueError(
        f"expected a duration like '30s', '5m', '500ms', '1h' or seconds, got {value!r}"
    )


Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0},
                {"type": "string", "pattern": _DURATION.pattern},
            ],
            "description": "seconds, or a string like '30s', '5m', '500ms', '1h'",
        }
    ),
]


def _no_entries() -> dict[str, Any]:
    """The default of an optional mapping field: a new empty dict.

    A function of ours rather than `dict` (and `_no_items` rather than `list`): pydantic reads a
    default factory's signature, and reading a builtin's compiles the tokenizer's regular
    expressions, a few milliseconds of every `noetl run` (benchmarks/README.md, cold start).
    """
    return {}


def _no_items() -> list[Any]:
    """The default of an optional list field: a new empty list (see `_no_entries`)."""
    return []


class _Strict(BaseModel):
    """Base of every DSL model: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


# A catalog path is its address in URLs (`/api/v2/catalog/{path}`) and on the command line:
# names joined by "/" (NoETL's own playbooks may start with one), none empty, "." or "..", no
# space, control or format character.
_CATALOG_PATH = re.compile(r"/?[\w.@+-]+(?:/[\w.@+-]+)*")
MAX_CATALOG_PATH = 255


def catalog_path(path: str) -> str:
    """`path` when it can be a catalog path ("" too: the default), else ValueError saying why."""
    if path and (
        len(path) > MAX_CATALOG_PATH
        or not _CATALOG_PATH.fullmatch(path)
        or any(part in (".", "..") for part in path.split("/"))
    ):
        raise ValueError(
            "a catalog path is names joined by '/' (letters, digits and _ . @ + -; no empty, "
            f"'.' or '..' part; at most {MAX_CATALOG_PATH} characters), got {path[:80]!r}"
        )
    return path


CatalogPath = Annotated[str, AfterValidator(catalog_path)]


class Metadata(_Strict):
    """`metadata:` identifies the playbook."""

    name: str
    path: CatalogPath = ""
    version: int | None = None
    description: str = ""
    labels: dict[str, Any] = Field(default_factory=_no_entries)


class ExecutorSpec(_Strict):
    """`executor.spec`: where commands run."""

    pool: str | None = None


class Executor(_Strict):
    """`executor:` selects the runtime mode and worker pool."""

    kind: Literal["auto"] = "auto"  # the only mode: wherever this NoETL runs commands
    spec: ExecutorSpec = Field(default_factory=ExecutorSpec)


class _Action(_Strict):
    """What a matching eval rule does, and the scopes it updates."""

    do: EvalActionName | None = None
    attempts: int | None = None
    backoff: BackoffName | None = None
    delay: Duration | None = None
    to: str | None = None
    set_ctx: dict[str, Any] = Field(default_factory=_no_entries)
    set_vars: dict[str, Any] = Field(default_factory=_no_entries)
    set_iter: dict[str, Any] = Field(default_factory=_no_entries)


class ElseRule(_Action):
    """`else:` body of the rule that matches when no other rule did."""

    do: EvalActionName


class EvalRuleModel(_Action):
    """One `eval` rule: `{expr, do, ...}` or `{else: {do, ...}}`."""

    expr: Any = None
    else_: ElseRule | None = Field(default=None, alias="else")

    @model_validator(mode="after")
    def _one_form(self) -> EvalRuleModel:
        if self.else_ is not None:
            others = sorted(self.model_fields_set - {"else_"})
            if others:
                raise ValueError(
                    "an 'else' rule holds only 'else'; move "
                    + ", ".join(repr(name) for name in others)
                    + " inside it"
                )
            return self
        if self.expr is None:
            raise ValueError("an eval rule needs 'expr' (or is written as 'else: {do: ...}')")
        if self.do is None:
            raise ValueError("an eval rule needs 'do': one of continue, retry, jump, break, fail")
        return self


class TaskModel(BaseModel):
    """One tool task. Extra keys are the kind's own fields (checked by `noetl.dsl.check`)."""

    model_config = ConfigDict(extra="allow")

    kind: str
    args: dict[str, Any] = Field(default_factory=_no_entries)
    eval: list[EvalRuleModel] = Field(default_factory=_no_items)
    timeout: Duration | None = None

    @property
    def config(self) -> dict[str, Any]:
        """The kind's own fields (everything but kind, args, eval, timeout)."""
        return dict(self.model_extra or {})


def _single_label(entry: dict[str, TaskModel]) -> dict[str, TaskModel]:
    if len(entry) != 1:
        raise ValueError(
            "a pipeline entry is a map with exactly one key, the task label "
            f"(`- label: {{kind: ...}}`), got {len(entry)} keys"
        )
    return entry


PipelineEntry = Annotated[
    dict[str, TaskModel],
    AfterValidator(_single_label),
    Field(json_schema_extra={"minProperties": 1, "maxProperties": 1}),
]


def _tool_form(value: Any) -> str:
    return PIPELINE_TAG if isinstance(value, list) else TASK_TAG


ToolSpec = Annotated[
    Annotated[TaskModel, Tag(TASK_TAG)] | Annotated[list[PipelineEntry], Tag(PIPELINE_TAG)],
    Discriminator(_tool_form),
]


class ArcModel(_Strict):
    """One `next` arc."""

    step: str
    when: Any = None
    args: dict[str, Any] = Field(default_factory=_no_entries)
    set_ctx: dict[str, Any] = Field(default_factory=_no_entries)


def _arc_form(value: Any) -> str:
    return NAME_TAG if isinstance(value, str) else ARC_TAG


def _next_form(value: Any) -> str:
    return NAME_TAG if isinstance(value, str) else LIST_TAG


ArcItem = Annotated[
    Annotated[str, Tag(NAME_TAG)] | Annotated[ArcModel, Tag(ARC_TAG)],
    Discriminator(_arc_form),
]
NextSpec = Annotated[
    Annotated[str, Tag(NAME_TAG)] | Annotated[list[ArcItem], Tag(LIST_TAG)],
    Discriminator(_next_form),
]


class LoopSpec(_Strict):
    """`loop.spec`: how iterations run."""

    mode: Literal["sequential", "parallel"] = "sequential"
    # A whole number, or a template rendered on the control plane when the loop starts.
    max_in_flight: Annotated[int | str, AfterValidator(_in_flight)] | None = None


class LoopModel(_Strict):
    """`loop:` runs the step's pipeline once per element of `in`."""

    in_: Any = Field(default=None, alias="in")
    iterator: str = "item"
    spec: LoopSpec = Field(default_factory=LoopSpec)


class StepSpec(_Strict):
    """`spec:` of a step: routing mode, join and timeout."""

    next_mode: Literal["exclusive", "inclusive"] = "exclusive"
    join: Literal["any", "all"] = "any"
    timeout: Duration | None = None


class StepModel(_Strict):
    """One step of `workflow`."""

    step: str
    desc: str = ""
    when: Any = None
    tool: ToolSpec | None = None
    loop: LoopModel | None = None
    next: NextSpec = Field(default_factory=_no_items)
    spec: StepSpec = Field(default_factory=StepSpec)
    set_ctx: dict[str, Any] = Field(default_factory=_no_entries)

    def arcs(self) -> list[tuple[tuple[str | int, ...], ArcModel]]:
        """Each arc with its path relative to the step (shorthand names become arcs)."""
        if isinstance(self.next, str):
            return [(("next",), ArcModel(step=self.next))]
        out: list[tuple[tuple[str | int, ...], ArcModel]] = []
        for i, item in enumerate(self.next):
            if isinstance(item, str):
                out.append((("next", i), ArcModel(step=item)))
            else:
                out.append((("next", i, "step"), item))
        return out

    def tasks(self) -> list[tuple[str, tuple[str | int, ...], TaskModel]]:
        """Each task as (label, path relative to the step, model); a single task is
        labelled with the step's name."""
        if self.tool is None:
            return []
        if isinstance(self.tool, TaskModel):
            return [(self.step, ("tool",), self.tool)]
        return [
            (label, ("tool", i, label), task)
            for i, entry in enumerate(self.tool)
            for label, task in entry.items()
        ]


class WorkbookEntry(_Strict):
    """A named task in `workbook:`, called from a step with `kind: workbook, name: ...`."""

    name: str
    desc: str = ""
    tool: TaskModel


class PlaybookModel(_Strict):
    """The whole playbook document."""

    model_config = ConfigDict(extra="forbid", title="NoETL playbook (canonical v2)")

    api_version: Literal["noetl.io/v2"] = Field(alias="apiVersion")
    kind: Literal["Playbook"]
    metadata: Metadata
    executor: Executor = Field(default_factory=Executor)
    workload: dict[str, Any] = Field(default_factory=_no_entries)
    workbook: list[WorkbookEntry] = Field(default_factory=_no_items)
    workflow: list[StepModel]
