"""Loading a playbook: YAML with positions -> pydantic shape check -> semantic checks ->
the engine's immutable `PlaybookDef`.

Every stage reports `Problem`s that point at `file:line:col` and a document path such as
`workflow[3].tool.get.eval[0].do`. A stage runs only when the one before it found no error,
so one call reports every YAML error, or every shape error, or every semantic problem.
Reading the YAML with positions is `noetl.dsl.reading`'s.
"""

from __future__ import annotations

import functools
import logging
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, get_args, get_origin

from pydantic import BaseModel, Tag, ValidationError
from pydantic_core import ErrorDetails

from noetl.dsl.check import DocPath, Locator, did_you_mean, semantic_problems
from noetl.dsl.importer import Imported, import_document
from noetl.dsl.model import TAGS, TASK_TAG, EvalRuleModel, PlaybookModel, StepModel, TaskModel
from noetl.dsl.reading import Source, parse_yaml, read_source
from noetl.dsl.scopes import unknown_names
from noetl.dsl.templates import RENDERER
from noetl.engine.definition import Arc, EvalRule, LoopDef, PlaybookDef, StepDef, TaskDef
from noetl.errors import PlaybookError, Problem

_log = logging.getLogger("noetl.dsl.import")

_DEFAULT_IN_FLIGHT = {"sequential": 1, "parallel": 10}


def load_playbook(
    source: Source, *, file: str | None = None, scripts_from: Path | None = None
) -> PlaybookDef:
    """Load and validate a playbook from a file `Path`, a string of YAML, or a parsed dict.

    Raises `PlaybookError` carrying every problem found. Warnings (such as unreachable steps)
    do not raise; use `check_playbook` to see them. YAML text is loaded once per distinct
    (text, file): the definition is immutable, so executions of one playbook share it.
    """
    if isinstance(source, str):
        return _load_text(source, file, scripts_from)
    playbook, problems = check_playbook(source, file=file, scripts_from=scripts_from)
    if playbook is None:
        raise PlaybookError(problems=problems)
    return playbook


@functools.lru_cache(maxsize=256)
def _load_text(text: str, file: str | None, scripts_from: Path | None) -> PlaybookDef:
    playbook, problems = check_playbook(text, file=file, scripts_from=scripts_from)
    if playbook is None:
        raise PlaybookError(problems=problems)
    return playbook


def check_playbook(
    source: Source, *, file: str | None = None, scripts_from: Path | None = None
) -> tuple[PlaybookDef | None, list[Problem]]:
    """Like `load_playbook`, but return `(playbook or None, problems)` instead of raising.

    The playbook is None exactly when at least one problem is an error. A NoETL playbook
    converted on load reads its `script` files only from `scripts_from` (a `Path` source's
    folder by default): text handed over (a server's request, a catalog entry) names no file
    of the machine that loads it, and must not read one.
    """
    if isinstance(source, Path):
        file = str(source) if file is None else file
        scripts_from = source.parent if scripts_from is None else scripts_from
    data, where, read_problems = read_source(source, file)
    if read_problems and data is None:  # unreadable: nothing more to check
        return None, read_problems
    imported = import_document(data, where, source_dir=scripts_from)
    if imported.problems:  # a construct that cannot be converted: say which, and where
        return None, _in_order(read_problems + imported.problems)
    if imported.converted:
        data, where = imported.data, imported.where
        read_problems = [*read_problems, _notice(imported)]
    # duplicate keys leave a usable document, so the later stages still report their findings
    model, problems = _validate(data, where)
    if model is not None:
        problems = semantic_problems(model, data, where) + unknown_names(model, data, where)
    problems = _in_order(read_problems + problems)
    if model is None or any(p.severity == "error" for p in problems):
        return None, problems
    return _build(model, file), problems


def _in_order(problems: list[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: (p.line or 0, p.col or 0))


def _notice(imported: Imported) -> Problem:
    """The one notice line of a playbook converted on load (also logged for `run`/servers)."""
    _log.info("%s", imported.notice())
    message = imported.notice().split(": notice: ", 1)[1]
    return Problem(message, file=imported.where.file, line=1, col=1, severity="notice")


def import_text(
    text: str, file: str | None = None, scripts_from: Path | None = None
) -> tuple[Imported | None, list[Problem]]:
    """Parse YAML `text` and import it (see `noetl.dsl.importer`), without validating the
    result: `(imported or None, problems)`; None when the YAML is unreadable or a construct
    cannot be converted (the problems say which and where). `script` files are read only from
    `scripts_from` (see `check_playbook`)."""
    data, where, problems = parse_yaml(text, file)
    if data is None and problems:
        return None, problems
    imported = import_document(data, where, source_dir=scripts_from)
    if imported.problems:
        return None, _in_order(problems + imported.problems)
    return imported, problems


# --- shape validation ------------------------------------------------------------------------


def _validate(data: Any, where: Locator) -> tuple[PlaybookModel | None, list[Problem]]:
    if not isinstance(data, Mapping):
        message = "a playbook is a mapping with apiVersion, kind, metadata and workflow"
        if data is None and where.position(()) is None:  # no node at all: 1:1 is the place
            message = f"nothing to load: the file is empty (or holds only comments); {message}"
            return None, [Problem(message, file=where.file, line=1, col=1)]
        got = "an empty document" if data is None else f"a {_type_name(data)}"
        return None, [where.problem(f"{message}; got {got}", ())]
    try:
        return PlaybookModel.model_validate(data), []
    except ValidationError as err:
        return None, [_translate(error, where) for error in err.errors(include_url=False)]


def _translate(error: ErrorDetails, where: Locator) -> Problem:
    """One pydantic error -> one Problem at the document path it is about."""
    raw = tuple(error["loc"])
    path = tuple(seg for seg in raw if seg not in TAGS)
    if error["type"] == "extra_forbidden":
        return where.problem(_unknown_key(raw, path), path, key=True)
    if error["type"] == "missing":
        return where.problem(f"missing required field '{path[-1]}'", path)
    return where.problem(_message(error, raw), path)


def _unknown_key(raw: tuple[Any, ...], path: DocPath) -> str:
    if path == ("vars",):
        return "root 'vars' is not allowed; use workload, ctx (set_ctx) or step vars"
    key = str(path[-1])
    allowed = _fields_at(raw[:-1])
    hint = did_you_mean(key, allowed)
    if hint or not allowed:
        return f"unknown field '{key}'{hint}"
    return f"unknown field '{key}'; expected one of: {', '.join(allowed)}"


def _message(error: ErrorDetails, raw: tuple[Any, ...]) -> str:
    kind, value = error["type"], error.get("input")
    if kind == "value_error":
        return error["msg"].removeprefix("Value error, ")
    if kind == "literal_error":
        expected = str((error.get("ctx") or {}).get("expected", ""))
        choices = [part.strip().strip("'") for part in expected.replace(" or ", ",").split(",")]
        hint = did_you_mean(str(value), choices)
        return f"invalid value {value!r}: expected {expected}{hint}"
    if raw and raw[-1] == TASK_TAG:
        return (
            "tool must be one task ({kind: ..., ...}) or a list of labelled tasks "
            f"(- label: {{kind: ...}}); got a {_type_name(value)}"
        )
    expected_type = {
        "model_type": "a mapping",
        "model_attributes_type": "a mapping",
        "dict_type": "a mapping",
        "list_type": "a list",
        "string_type": "a string",
        "int_type": "an integer",
        "int_parsing": "an integer",
        "int_from_float": "an integer",
        "bool_type": "a boolean",
        "bool_parsing": "a boolean",
    }.get(kind)
    if expected_type:
        return f"expected {expected_type}, got {value!r}"
    return str(error["msg"])


def _type_name(value: Any) -> str:
    names = {dict: "mapping", list: "list", str: "string", bool: "boolean", int: "number"}
    return names.get(type(value), type(value).__name__)


def _fields_at(loc: tuple[Any, ...]) -> list[str]:
    """The field names (aliases) of the model found by following `loc` from the root."""
    annotation: Any = PlaybookModel
    for seg in loc:
        annotation = _child_type(annotation, seg)
        if annotation is None:
            return []
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [f.alias or name for name, f in annotation.model_fields.items()]
    return []


def _unwrap(annotation: Any) -> Any:
    """Strip `Annotated[...]` and `X | None` down to the type that matters."""
    while True:
        origin = get_origin(annotation)
        if origin is typing.Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [arg for arg in get_args(annotation) if arg is not type(None)]
            if len(members) != 1:
                return annotation
            annotation = members[0]
        else:
            return annotation


def _child_type(annotation: Any, seg: Any) -> Any:
    annotation = _unwrap(annotation)
    if seg in TAGS:  # a tagged union branch
        for member in get_args(annotation):
            tags = [m.tag for m in getattr(member, "__metadata__", ()) if isinstance(m, Tag)]
            if seg in tags:
                return member
        return None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        for name, info in annotation.model_fields.items():
            if seg in (name, info.alias):
                return info.annotation
        return None
    origin = get_origin(annotation)
    if origin is list and isinstance(seg, int):
        return get_args(annotation)[0]
    if origin is dict:
        return get_args(annotation)[1]
    return None


# --- building the definition -----------------------------------------------------------------


def _build(model: PlaybookModel, file: str | None) -> PlaybookDef:
    meta = model.metadata
    return PlaybookDef(
        name=meta.name,
        steps=tuple(_step(step) for step in model.workflow),
        renderer=RENDERER,
        path=meta.path,
        version=meta.version,
        api_version=model.api_version,
        description=meta.description,
        metadata=meta.model_dump(),
        executor=model.executor.model_dump(),
        workload=model.workload,
        workbook={entry.name: _task(entry.name, entry.tool) for entry in model.workbook},
        source_file=file,
    )


def _step(step: StepModel) -> StepDef:
    loop = None
    if step.loop is not None:
        mode = step.loop.spec.mode
        limit = step.loop.spec.max_in_flight
        loop = LoopDef(
            in_=step.loop.in_,
            iterator=step.loop.iterator,
            mode=mode,
            max_in_flight=limit if limit is not None else _DEFAULT_IN_FLIGHT[mode],
        )
    return StepDef(
        name=step.step,
        desc=step.desc,
        when=step.when,
        tasks=tuple(_task(label, task) for label, _, task in step.tasks()),
        loop=loop,
        next=tuple(
            Arc(step=arc.step, when=arc.when, args=arc.args, set_ctx=arc.set_ctx)
            for _, arc in step.arcs()
        ),
        next_mode=step.spec.next_mode,
        join=step.spec.join,
        timeout=step.spec.timeout,
        set_ctx=step.set_ctx,
    )


def _task(label: str, task: TaskModel) -> TaskDef:
    return TaskDef(
        label=label,
        kind=task.kind,
        config=task.config,
        args=task.args,
        eval=tuple(_rule(rule) for rule in task.eval),
        timeout=task.timeout,
    )


def _rule(rule: EvalRuleModel) -> EvalRule:
    action = rule.else_ if rule.else_ is not None else rule
    assert action.do is not None  # guaranteed by EvalRuleModel's validator
    delay = action.delay or 0.0
    return EvalRule(
        do=action.do,
        expr=None if rule.else_ is not None else rule.expr,
        attempts=action.attempts if action.attempts is not None else 3,
        backoff=action.backoff or ("fixed" if delay > 0 else "none"),
        delay=delay,
        to=action.to,
        set_ctx=action.set_ctx,
        set_vars=action.set_vars,
        set_iter=action.set_iter,
    )
