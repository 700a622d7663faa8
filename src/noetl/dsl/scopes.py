"""Which root names a playbook's templates may read, and a problem for each name they may not.

Templates render with a strict undefined (`noetl.dsl.templates`): a root name that no scope
holds fails the step, guard or start that renders it, every time it renders. Such a name is a
typo or a step that does not exist, so it is reported when the playbook is loaded (`noetl
validate`, and the load before a run or a registration) as an error at the template's
`file:line:col`, naming the step and the field, instead of at run time after the steps before
it ran. The names are collected the way the runtime collects them to build a worker's scope
(Jinja's undeclared names, so `{% for %}` and `{% set %}` names are local), less the names a
template only tests for (`x is defined`) or gives a default (`x | default(1)`).

The known names are those of docs/dsl.md "Scopes": the reserved scopes, the step names (a
step's result once it finished) and the sandbox's globals (`range`, `dict`, ...). Workload
templates render once at start with their own scope (`noetl.runtime.workload`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any

from noetl.dsl.check import DocPath, Locator, did_you_mean
from noetl.dsl.model import PlaybookModel, TaskModel
from noetl.dsl.sandbox import sandbox
from noetl.dsl.templates import RENDERER, is_template
from noetl.errors import Problem

# Every scope a step's templates may see somewhere (guards, arcs, tasks, rules, set_ctx).
STEP_SCOPES = frozenset(
    {
        "workload",
        "ctx",
        "vars",
        "iter",
        "args",
        "execution_id",
        "_prev",
        "_task",
        "_attempt",
        "results",
        "outcome",
        "event",
    }
)
# What a workload template sees when the execution starts (`noetl.runtime.workload`).
WORKLOAD_SCOPES = frozenset({"workload", "execution_id", "job", "now", "uuid"})

_NOT_RENDERED = frozenset({"step", "desc", "name"})  # names and free text, never templates
_OWNERS = (("workflow", "step", "step"), ("workbook", "name", "workbook task"))


@lru_cache(maxsize=1)
def _functions() -> frozenset[str]:
    """The sandbox's global functions (`range`, `dict`, `namespace`...)."""
    return frozenset(sandbox().globals)


def unknown_names(model: PlaybookModel, data: Any, where: Locator) -> list[Problem]:
    """An error for every template root name that no scope holds where it renders."""
    if not isinstance(data, Mapping):
        return []
    steps = {step.step for step in model.workflow}
    problems = _workload_names(data.get("workload"), where)
    known = STEP_SCOPES | steps | _functions()
    called = _called_workbook_tasks(model)
    for section, name_field, label in _OWNERS:
        entries = data.get(section)
        if not isinstance(entries, list):
            continue
        for i, entry in enumerate(entries):
            if not isinstance(entry, Mapping):
                continue
            name = entry.get(name_field)
            # A workbook task no step calls never renders: its names are a warning.
            severity = "warning" if section == "workbook" and name not in called else "error"
            owner = f"{label} '{name}'"
            fields = {key: value for key, value in entry.items() if key not in _NOT_RENDERED}
            for path, text in _templates(fields, (section, i)):
                problems += _check(text, path, known, owner, where, severity)
    return problems


def _workload_names(workload: Any, where: Locator) -> list[Problem]:
    """Unknown names of the workload's templates. One the payload may hide is a warning: a
    value reading its own key (`password: "{{ password }}"`) or `payload` is NoETL's way of
    saying "give it in the payload", and the payload's value replaces the template."""
    problems: list[Problem] = []
    known = WORKLOAD_SCOPES | _functions()
    for path, text in _templates(workload, ("workload",)):
        key = str(path[1])
        unknown = RENDERER.required_names(text) - known
        for name in sorted(unknown & {key, "payload"}):
            problems.append(
                where.problem(
                    f"workload.{key} reads '{name}': a start whose payload gives '{key}' "
                    "replaces this template, one without it fails",
                    path,
                    severity="warning",
                )
            )
        owner = "the workload (rendered once, at start)"
        problems += _check(text, path, known | {key, "payload"}, owner, where)
    return problems


def _check(
    text: str,
    path: DocPath,
    known: frozenset[str],
    owner: str,
    where: Locator,
    severity: str = "error",
) -> list[Problem]:
    problems = []
    for name in sorted(RENDERER.required_names(text) - known):
        problems.append(
            where.problem(
                f"template of {owner} reads unknown name '{name}'{_hint(name, known)}",
                path,
                severity=severity,
            )
        )
    return problems


def _called_workbook_tasks(model: PlaybookModel) -> set[str]:
    """Names of the workbook tasks a step calls, directly or through another workbook task."""
    calls = {entry.name: _workbook_call(entry.tool) for entry in model.workbook}
    frontier = [
        name
        for step in model.workflow
        for _, _, task in step.tasks()
        if (name := _workbook_call(task)) is not None
    ]
    called: set[str] = set()
    while frontier:
        name = frontier.pop()
        if name not in called:
            called.add(name)
            then = calls.get(name)
            if then is not None:
                frontier.append(then)
    return called


def _workbook_call(task: TaskModel) -> str | None:
    name = task.config.get("name") if task.kind == "workbook" else None
    return name if isinstance(name, str) else None


# Names NoETL's templates offer that have no counterpart here, and what to write instead.
_NOETL_NAMES = {
    "env": "environment variables are not readable from templates: pass the value in the "
    "payload (`--set NAME=value`) or give it in `workload`",
    "secret": "read a secret with a `secrets` task, or name a credential in `auth`",
    "keychain": "credentials are named credentials (`noetl credentials set`) read by `auth` "
    "or a `secrets` task",
    "payload": "the request payload is merged over `workload` (its keys replace workload "
    "values), and steps read them as `workload.NAME`",
    "token": "no `token()` function: fetch a token with an `http` task (or name a credential "
    "in `auth`)",
}


def _hint(name: str, known: frozenset[str]) -> str:
    """What the name could have been: a close known name, else what the names are."""
    if name in WORKLOAD_SCOPES:
        return f": '{name}' is only known to workload templates, rendered once at start"
    if name in _NOETL_NAMES:
        return f": {_NOETL_NAMES[name]}"
    close = did_you_mean(name, known - _functions())
    if close:
        return close
    return (
        ": no step has that name, and it is no scope"
        " (workload, ctx, vars, iter, args, results, _prev, outcome, event...)"
    )


def _templates(value: Any, path: DocPath) -> Iterator[tuple[DocPath, str]]:
    """`(path, text)` of every template string in `value`."""
    if isinstance(value, str):
        if is_template(value):
            yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _templates(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _templates(item, (*path, i))
