"""Rewriting the templates of NoETL's newer form into canonical v2 names.

NoETL templates read workload keys and loop items by their bare names (`{{ message }}`,
`{{ user.name }}`), pipeline results by task label, and a rule's attempt as `output`. The
canonical DSL names each scope (`workload.message`, `iter.user`, `results.fetch`, `outcome`).

The rewrite works on Jinja's own token stream, so text, strings and whitespace come back
exactly as written; only the root names of variable references change. A name is a root when
the template reads it from the outside (Jinja's undeclared variables) and it is not an
attribute (`a.name`), a filter or test (`| name`, `is name`) or a keyword argument (`f(name=1)`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jinja2
from jinja2 import meta

_ENV = jinja2.Environment()
_NOT_A_ROOT_AFTER = frozenset({".", "|"})
_WHITESPACE = "whitespace"

# `output.<field>` of a NoETL policy rule -> the canonical outcome envelope.
_OUTPUT_FIELDS = {
    "data": "outcome.result",
    "response": "outcome.result",
    "result": "outcome.result",
    "status": "outcome.status",
    "error": "outcome.error",
    "http": "outcome.http",
    "meta": "outcome.meta",
}
# Two-level `output` fields whose canonical name differs.
_OUTPUT_SUBFIELDS = {
    ("error", "status"): "outcome.error.status_code",
    ("error", "kind"): "outcome.error.category",  # NoETL's server_error, rate_limit, auth...
    ("http", "status_code"): "outcome.http.status",
}
# NoETL's database results hold one `command_<n>` entry per statement; the canonical result is
# the last statement's `{rows, row_count, columns}`, so `.command_<n>` is dropped.
_STATEMENT = re.compile(r"command_\d+")
# `job.<field>` naming the execution's id (NoETL offers `job` in every template; here the
# id is `execution_id`; `job.uuid` stays a workload-only name, rendered once at start).
_JOB_EXECUTION_ID = frozenset({"execution_id", "id"})
# Step results of a non-loop step read through `.data` (NoETL's envelope convenience).
_DATA = "data"


@dataclass
class Names:
    """What the bare names of one template scope mean.

    `roots` maps a bare name to the canonical expression replacing it. `output` says whether
    `output` is the attempt's outcome (inside policy rules). `loop_steps` are step names whose
    `.data` reads their ordered iteration results; `steps` are the other steps, whose `.data`
    may name a `data` field of the result or the result itself.
    """

    roots: Mapping[str, str] = field(default_factory=dict)
    output: bool = False
    steps: frozenset[str] = frozenset()
    loop_steps: frozenset[str] = frozenset()
    output_step: str | None = None  # in a step's `set` and arcs: `output` is its result
    sql: frozenset[str] = frozenset()  # roots holding database results (`output` included)
    output_prev: bool = False  # in a task's own fields: `output` is the previous task's


def rewrite_value(value: Any, names: Names) -> Any:
    """`value` with every template string in it rewritten (mappings and lists walked)."""
    if isinstance(value, str):
        return rewrite_text(value, names)
    if isinstance(value, Mapping):
        return {key: rewrite_value(item, names) for key, item in value.items()}
    if isinstance(value, list):
        return [rewrite_value(item, names) for item in value]
    return value


def rewrite_text(text: str, names: Names) -> str:
    """`text` with its root names rewritten; text that is not a (valid) template is returned
    unchanged, so `noetl validate` reports a broken template at its original place."""
    if "{{" not in text and "{%" not in text:
        return text
    try:
        free = meta.find_undeclared_variables(_ENV.parse(text))
        tokens = [(kind, value) for _, kind, value in _ENV.lex(text)]
    except jinja2.TemplateSyntaxError:
        return text
    return _Rewrite(tokens, free, names).run()


class _Rewrite:
    """One pass over a template's tokens."""

    def __init__(self, tokens: list[tuple[str, str]], free: set[str], names: Names) -> None:
        self.tokens = tokens
        self.free = free
        self.names = names
        self.out: list[str] = []
        self.reads_output_status = False

    def run(self) -> str:
        i = 0
        while i < len(self.tokens):
            kind, value = self.tokens[i]
            if kind == "name" and self._is_root(i):
                i = self._root(i)
                continue
            self.out.append(value)
            i += 1
        text = "".join(self.out)
        if self.reads_output_status:
            # NoETL's outcome status is ok|error; the canonical one is success|error.
            text = text.replace("'ok'", "'success'").replace('"ok"', '"success"')
        return text

    def _is_statement_attribute(self, i: int) -> bool:
        if self.tokens[i] != ("operator", ".") or i + 1 >= len(self.tokens):
            return False
        kind, value = self.tokens[i + 1]
        return kind == "name" and _STATEMENT.fullmatch(value) is not None

    def _is_root(self, i: int) -> bool:
        value = self.tokens[i][1]
        if value not in self.free:
            return False
        before = self._neighbour(i, -1)
        after = self._neighbour(i, 1)
        if before is not None and (before[1] in _NOT_A_ROOT_AFTER or before == ("name", "is")):
            return False
        return after != ("operator", "=")

    def _neighbour(self, i: int, step: int) -> tuple[str, str] | None:
        j = i + step
        while 0 <= j < len(self.tokens):
            if self.tokens[j][0] != _WHITESPACE:
                return self.tokens[j]
            j += step
        return None

    def _attribute(self, i: int) -> tuple[str, int] | None:
        """The attribute name after the root at `i` (`root.attr`) and the index past it."""
        if i + 2 < len(self.tokens) and self.tokens[i + 1] == ("operator", "."):
            kind, value = self.tokens[i + 2]
            if kind == "name":
                return value, i + 3
        return None

    def _root(self, i: int) -> int:
        end = self._root_only(i)
        if self.tokens[i][1] in self.names.sql:
            while end < len(self.tokens) and self._is_statement_attribute(end):
                end += 2  # `.command_<n>`
        return end

    def _root_only(self, i: int) -> int:
        name = self.tokens[i][1]
        attribute = self._attribute(i)
        if name == "output" and self.names.output_step is not None:
            return self._step_output(i, attribute, self.names.output_step)
        if name == "output" and self.names.output:
            return self._output(i, attribute)
        if name == "output" and self.names.output_prev:
            return self._step_output(i, attribute, "_prev")  # NoETL: the last task's output
        if name == "job" and attribute is not None and attribute[0] in _JOB_EXECUTION_ID:
            names = self.names
            if "job" not in {*names.roots, *names.steps, *names.loop_steps}:
                self.out.append("execution_id")  # NoETL's job is the execution
                return attribute[1]
        ran = name == self.names.output_step  # a step's own set and arcs: it has run
        if attribute is None and not ran and name in self.names.steps | self.names.loop_steps:
            # NoETL reads a step that did not run as an empty (falsy) value
            self.out.append(f"({name} if {name} is defined else none)")
            return i + 1
        if attribute is not None and attribute[0] == _DATA:
            if name in self.names.loop_steps:
                self.out.append(f"{name}.results")
                return attribute[1]
            if name in self.names.steps:
                self.out.append(f"({name}.data if {name}.data is defined else {name})")
                return attribute[1]
        self.out.append(self.names.roots.get(name, name))
        return i + 1

    def _step_output(self, i: int, attribute: tuple[str, int] | None, step: str) -> int:
        self.out.append(step)
        if attribute is not None and attribute[0] in ("data", "response", "result"):
            return attribute[1]
        return i + 1

    def _output(self, i: int, attribute: tuple[str, int] | None) -> int:
        if attribute is None:
            self.out.append("outcome.result")
            return i + 1
        replacement = _OUTPUT_FIELDS.get(attribute[0])
        if replacement is None:
            self.out.append("outcome.result")
            return i + 1
        if attribute[0] == "status":
            self.reads_output_status = True
        deeper = self._attribute(attribute[1] - 1)
        if deeper is not None and (attribute[0], deeper[0]) in _OUTPUT_SUBFIELDS:
            self.out.append(_OUTPUT_SUBFIELDS[(attribute[0], deeper[0])])
            return deeper[1]
        self.out.append(replacement)
        return attribute[1]
