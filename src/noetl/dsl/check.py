"""Semantic checks of a playbook whose shape is already valid, and where findings point.

`Locator` turns a document path (a tuple of keys and list indexes, e.g.
`("workflow", 3, "tool", 0, "get", "eval", 0, "do")`) into a `Problem` with the readable path
`workflow[3].tool.get.eval[0].do` and the YAML line and column of that node (or of its nearest
parent that has one). `semantic_problems` runs every cross-reference check and returns the
problems found, errors and warnings alike.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from noetl.dsl.kinds import BUILTIN_KINDS, COMMON_TASK_FIELDS, plugin_entry_points
from noetl.dsl.model import PlaybookModel, StepModel, TaskModel
from noetl.dsl.templates import is_template, syntax_error
from noetl.engine.storable import unstorable_at
from noetl.errors import Problem

DocPath = tuple[str | int, ...]
Position = tuple[int, int]  # 1-based line, column


def format_path(path: DocPath) -> str:
    """`("workflow", 3, "tool", 0, "get", "eval", 0)` -> `workflow[3].tool.get.eval[0]`.

    Pipeline tasks are named by their label, so the list index before a label is dropped.
    """
    out = ""
    for i, seg in enumerate(path):
        in_pipeline = (
            isinstance(seg, int) and i == 3 and path[0] == "workflow" and path[2] == "tool"
        )
        if in_pipeline and len(path) > 4:
            continue
        if isinstance(seg, int):
            out += f"[{seg}]"
        else:
            out += f".{seg}" if out else str(seg)
    return out


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`"; did you mean 'x'?"` when a choice is close to `word`, else ``""``."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


# eq=False, repr=False: one document's positions, never compared or printed; each method @dataclass
# generates is compiled when `noetl run` starts (benchmarks/README.md).
@dataclass(eq=False, repr=False)
class Locator:
    """Positions of the nodes of one YAML document, and the file it came from."""

    file: str | None = None
    values: dict[DocPath, Position] = field(default_factory=dict)
    keys: dict[DocPath, Position] = field(default_factory=dict)

    def position(self, path: DocPath, *, key: bool = False) -> Position | None:
        """Where `path` is: its key (when asked and known), else its value, else a parent's."""
        if key and path in self.keys:
            return self.keys[path]
        for end in range(len(path), -1, -1):
            found = self.values.get(path[:end])
            if found is not None:
                return found
        return None

    def problem(
        self, message: str, path: DocPath, *, key: bool = False, severity: str = "error"
    ) -> Problem:
        """A `Problem` about the node at `path`."""
        pos = self.position(path, key=key)
        return Problem(
            message=message,
            path=format_path(path),
            file=self.file,
            line=pos[0] if pos else None,
            col=pos[1] if pos else None,
            severity=severity,
        )


@lru_cache(maxsize=1)
def known_kinds() -> tuple[str, ...]:
    """Built-in tool kinds plus the ones plugins register in the `noetl.tools` group."""
    return tuple(sorted(set(BUILTIN_KINDS) | set(plugin_entry_points())))


def semantic_problems(model: PlaybookModel, data: Any, where: Locator) -> list[Problem]:
    """Every cross-reference problem of a shape-valid playbook (errors and warnings)."""
    if not model.workflow:
        return [
            where.problem("workflow is empty: a playbook needs at least one step", ("workflow",))
        ]
    problems = _step_names(model, where)
    names = {step.step for step in model.workflow}
    workbook = {entry.name for entry in model.workbook}
    for i, step in enumerate(model.workflow):
        base: DocPath = ("workflow", i)
        problems += _arcs(step, base, names, where)
        problems += _loop(step, base, where)
        problems += _pipeline(step.tasks(), base, workbook, where)
    for k, entry in enumerate(model.workbook):
        task_path: DocPath = ("workbook", k, "tool")
        problems += _pipeline([(entry.name, task_path, entry.tool)], (), workbook, where)
    problems += list(_templates(data, (), where))
    problems += _unstorable_workload(data, where)
    problems += _unreachable(model, where)
    return problems


def _unstorable_workload(data: Any, where: Locator) -> list[Problem]:
    """The workload value a start would refuse (`.nan`, `.inf`, too deep...), where it is:
    the same check, so validation and the run say the same."""
    workload = data.get("workload") if isinstance(data, Mapping) else None
    found = unstorable_at(workload) if workload is not None else None
    if found is None:
        return []
    path, why = found
    return [where.problem(f"{why}: an execution cannot start with it", ("workload", *path))]


def _step_names(model: PlaybookModel, where: Locator) -> list[Problem]:
    seen: dict[str, int] = {}
    problems = []
    for i, step in enumerate(model.workflow):
        if step.step in seen:
            first = where.position(("workflow", seen[step.step], "step"))
            at = f" (first defined at line {first[0]})" if first else ""
            problems.append(
                where.problem(f"duplicate step name '{step.step}'{at}", ("workflow", i, "step"))
            )
        else:
            seen[step.step] = i
    return problems


def _arcs(step: StepModel, base: DocPath, names: set[str], where: Locator) -> list[Problem]:
    problems = []
    for rel, arc in step.arcs():
        if arc.step not in names:
            hint = did_you_mean(arc.step, names)
            problems.append(where.problem(f"next: unknown step '{arc.step}'{hint}", base + rel))
    return problems


def _loop(step: StepModel, base: DocPath, where: Locator) -> list[Problem]:
    if step.loop is None:
        return []
    problems = []
    if step.loop.in_ is None:
        problems.append(
            where.problem("loop needs 'in': the collection to iterate over", (*base, "loop"))
        )
    limit = step.loop.spec.max_in_flight
    if isinstance(limit, int) and limit < 1:
        path = (*base, "loop", "spec", "max_in_flight")
        problems.append(where.problem(f"max_in_flight must be at least 1, got {limit}", path))
    return problems


def _pipeline(
    tasks: list[tuple[str, DocPath, TaskModel]],
    base: DocPath,
    workbook: set[str],
    where: Locator,
) -> list[Problem]:
    problems = []
    labels = [label for label, _, _ in tasks]
    seen: set[str] = set()
    for label, rel, task in tasks:
        path = base + rel
        if label in seen:
            problems.append(where.problem(f"duplicate task label '{label}'", path, key=True))
        seen.add(label)
        problems += _task_fields(task, path, where)
        problems += _eval_targets(task, path, labels, where)
        if task.kind == "workbook" and isinstance(task.config.get("name"), str):
            name = task.config["name"]
            if name not in workbook:
                hint = did_you_mean(name, workbook) if workbook else "; the workbook is empty"
                problems.append(
                    where.problem(f"unknown workbook task '{name}'{hint}", (*path, "name"))
                )
    return problems


def _task_fields(task: TaskModel, path: DocPath, where: Locator) -> list[Problem]:
    spec = BUILTIN_KINDS.get(task.kind)
    if spec is None:
        # Plugins are looked up only for a kind that is not built in: listing the installed
        # distributions' entry points costs 10-20 ms of every `noetl run` (cold start).
        kinds = known_kinds()
        if task.kind not in kinds:
            message = f"unknown tool kind '{task.kind}'{did_you_mean(task.kind, kinds)}"
            return [where.problem(f"{message} (known kinds: {', '.join(kinds)})", (*path, "kind"))]
        return []  # a plugin kind: its fields are its own business
    given = set(task.config)
    allowed = sorted(spec.allowed | COMMON_TASK_FIELDS)
    problems = []
    for name in sorted(given - spec.allowed):
        problems.append(
            where.problem(
                f"unknown field '{name}' for tool kind '{task.kind}'"
                f"{did_you_mean(name, allowed)} (allowed: {', '.join(allowed)})",
                (*path, name),
                key=True,
            )
        )
    for name in sorted(spec.required - given):
        problems.append(
            where.problem(f"tool kind '{task.kind}' needs field '{name}'", (*path, "kind"))
        )
    for group in spec.one_of:
        if len(group & given) == 1:
            continue
        choices = " or ".join(f"'{name}'" for name in sorted(group))
        need = f"field {choices}" if len(group) == 1 else f"exactly one of {choices}"
        problems.append(where.problem(f"tool kind '{task.kind}' needs {need}", (*path, "kind")))
    return problems


def _eval_targets(
    task: TaskModel, path: DocPath, labels: list[str], where: Locator
) -> list[Problem]:
    problems = []
    for r, rule in enumerate(task.eval):
        action = rule.else_ if rule.else_ is not None else rule
        rule_path: DocPath = (*path, "eval", r, "else") if rule.else_ else (*path, "eval", r)
        if action.do != "jump":
            continue
        if action.to is None:
            problems.append(
                where.problem("'jump' needs 'to': the label of a task in this pipeline", rule_path)
            )
        elif action.to not in labels:
            problems.append(
                where.problem(
                    f"jump to unknown task '{action.to}'{did_you_mean(action.to, labels)}"
                    f" (labels in this pipeline: {', '.join(dict.fromkeys(labels))})",
                    (*rule_path, "to"),
                )
            )
    return problems


def _templates(value: Any, path: DocPath, where: Locator) -> Iterator[Problem]:
    """A problem for every templated string that does not compile."""
    if isinstance(value, str):
        if is_template(value):
            found = syntax_error(value)
            if found is not None:
                line, message = found
                yield where.problem(
                    f"template syntax error on line {line} of the template: {message}", path
                )
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _templates(item, (*path, key), where)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _templates(item, (*path, i), where)


def _unreachable(model: PlaybookModel, where: Locator) -> list[Problem]:
    by_name = {step.step: step for step in model.workflow}
    entry = "start" if "start" in by_name else model.workflow[0].step
    reached = {entry}
    frontier = [entry]
    while frontier:
        for _, arc in by_name[frontier.pop()].arcs():
            if arc.step in by_name and arc.step not in reached:
                reached.add(arc.step)
                frontier.append(arc.step)
    problems = []
    for i, step in enumerate(model.workflow):
        if step.step not in reached:
            reached.add(step.step)  # one warning per name, even when it is duplicated
            problems.append(
                where.problem(
                    f"step '{step.step}' can never be reached from the entry step '{entry}'",
                    ("workflow", i, "step"),
                    severity="warning",
                )
            )
    return problems
