"""One NoETL tool task -> one canonical task (`input` -> `args`, policy rules -> `eval`,
field aliases of the database and http kinds, task-level `set`, python conventions)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from noetl.dsl.check import DocPath, did_you_mean, known_kinds
from noetl.dsl.importer.context import Conversion
from noetl.dsl.importer.expressions import Names, rewrite_value
from noetl.dsl.importer.python import convert_python, script_text
from noetl.dsl.importer.rules import convert_rules, split_set
from noetl.dsl.kinds import BUILTIN_KINDS

# NoETL field -> canonical field, per kind ("*" for every kind).
_ALIASES: dict[str, dict[str, str]] = {
    "*": {"input": "args"},
    "postgres": {"command": "query", "commands": "queries", "credential": "auth"},
    "duckdb": {"command": "query", "commands": "queries", "credential": "auth"},
    "http": {
        "endpoint": "url",
        "payload": "json",
        "verify_ssl": "verify",
        "timeout_seconds": "timeout",
    },
    "playbook": {"payload": "args"},  # the child's payload
}
# Fields with no canonical counterpart whose absence does not change what a run computes.
_DROPPED = {
    "pool": "connection pool settings are the runtime's own; dropped",
    "return_step": "the child's result is the result of its last step to finish",
    "task": "a playbook task's 'task' label is not needed; dropped",
    "assert": "'assert' (expects/returns) is documentation here; not enforced",
    "output_select": "result storage hints are the runtime's own; dropped",
    "output": "result storage hints are the runtime's own; dropped",
}
_TEMPLATE_FREE = ("kind",)
SQL_KINDS = frozenset({"postgres", "duckdb"})


def convert_task(
    task: Mapping[str, Any],
    old: DocPath,
    new: DocPath,
    conv: Conversion,
    names: Names,
    label: str,
) -> tuple[dict[str, Any], dict[str, str]]:
    """The canonical task labelled `label`, and the bare names its `set` defines
    (name -> `vars.name`). Inside its rules, `label` names the attempt's own result."""
    kind = str(task.get("kind", ""))
    if kind and kind not in BUILTIN_KINDS and kind not in known_kinds():
        # Refused here, not by validation: a kind's other fields (a `container`'s list of
        # `args`) would otherwise be reported instead of the kind itself.
        conv.refuse(
            (*old, "kind"),
            f"tool kind '{kind}' has no counterpart here{did_you_mean(kind, known_kinds())} "
            f"(known kinds: {', '.join(known_kinds())})",
            key=False,
        )
        return dict(task), {}
    sql = names.sql | ({"output", label} if kind in SQL_KINDS else set())
    rule_names = Names(
        {**names.roots, label: "outcome.result"},
        True,
        names.steps - {label},
        names.loop_steps - {label},
        sql=frozenset(sql),
    )
    fields = dict(task)
    if kind != "workbook":  # a workbook task's `name` is the workbook entry it calls
        fields.pop("name", None)
    spec = fields.pop("spec", None)
    rules: list[dict[str, Any]] = []
    if isinstance(spec, Mapping):
        rules = _spec(spec, fields, (*old, "spec"), new, conv, rule_names)
    elif spec is not None:
        conv.refuse((*old, "spec"), "a task's 'spec' must be a mapping")
    out = _renamed(fields, kind, old, new, conv, replace(names, output_prev=True))
    _kind_conventions(out, kind, old, new, conv)
    defined = _task_set(out, rules, task.get("set"), (*old, "set"), conv, rule_names)
    retry = out.pop("retry", None)
    if retry is not None:
        rules = _retry(retry, (*old, "retry"), (*new, "eval"), conv) + rules
    if rules:
        out["eval"] = rules
        conv.place((*new, "eval"), (*old, "spec", "policy", "rules"))
    return out, defined


def _renamed(
    fields: Mapping[str, Any],
    kind: str,
    old: DocPath,
    new: DocPath,
    conv: Conversion,
    names: Names,
) -> dict[str, Any]:
    """The task's fields under their canonical names, templates rewritten."""
    out: dict[str, Any] = {}
    for key, value in fields.items():
        target = _ALIASES.get(kind, {}).get(key) or _ALIASES["*"].get(key) or key
        if key in _DROPPED:
            conv.note(new, f"'{key}': {_DROPPED[key]}")
            continue
        if target in out:
            conv.refuse((*old, key), f"'{key}' and '{target}' both given; keep one")
            continue
        conv.place((*new, target), (*old, key))
        if target != key and key not in _ALIASES["*"]:
            conv.note((*new, target), f"from NoETL '{key}'")
        out[target] = value if key in _TEMPLATE_FREE else rewrite_value(value, names)
    return out


def _kind_conventions(
    out: dict[str, Any], kind: str, old: DocPath, new: DocPath, conv: Conversion
) -> None:
    """What one kind does differently in NoETL: http mapping bodies, python and SQL scripts."""
    if kind == "http" and isinstance(out.get("body"), Mapping) and "json" not in out:
        out["json"] = out.pop("body")  # NoETL sends a mapping body as JSON
        conv.place((*new, "json"), (*old, "body"))
    if kind == "python":
        convert_python(out, old, new, conv)
    elif kind in SQL_KINDS and "script" in out:
        _sql_script(out, old, new, conv)


def _sql_script(out: dict[str, Any], old: DocPath, new: DocPath, conv: Conversion) -> None:
    """A database task's `script` (a local SQL file) becomes its `query`."""
    text = script_text(out.pop("script"), (*old, "script"), conv)
    if text is None:
        return
    if "query" in out or "queries" in out:
        conv.refuse((*old, "script"), "'script' and a query are both given; keep one")
        return
    out["query"] = text
    conv.place((*new, "query"), (*old, "script"))
    conv.note((*new, "query"), "from NoETL 'script' (the file's text, read on import)")


def _spec(
    spec: Mapping[str, Any],
    fields: dict[str, Any],
    old: DocPath,
    new: DocPath,
    conv: Conversion,
    names: Names,
) -> list[dict[str, Any]]:
    """Policy rules out of a task's `spec`; its other keys are the task's own fields."""
    rules: list[dict[str, Any]] = []
    for key, value in spec.items():
        if key == "policy":
            if isinstance(value, Mapping) and set(value) <= {"rules"}:
                rules = convert_rules(
                    value.get("rules", []), (*old, "policy", "rules"), (*new, "eval"), conv, names
                )
            else:
                conv.refuse((*old, "policy"), "a task policy holds only 'rules'")
        elif key in fields:
            conv.refuse((*old, key), f"'{key}' is given both in the task and in its spec")
        else:
            fields[key] = value
    return rules


def _task_set(
    out: dict[str, Any],
    rules: list[dict[str, Any]],
    values: Any,
    old: DocPath,
    conv: Conversion,
    names: Names,
) -> dict[str, str]:
    """A task-level `set` applies after a successful attempt: merged into the success rules."""
    out.pop("set", None)
    if values is None:
        return {}
    if not isinstance(values, Mapping):
        conv.refuse(old, "'set' must be a mapping of NAME: value")
        return {}
    sets = split_set(values, old, conv, names)
    if not sets:
        return {}
    merged = False
    for rule in rules:
        action = rule.get("else", rule)
        if action.get("do") in ("continue", "break"):
            for scope, items in sets.items():
                action[scope] = {**action.get(scope, {}), **items}
            merged = merged or "else" in rule
    if not merged:
        rules.append({"expr": "{{ outcome.status == 'success' }}", "do": "continue", **sets})
    return {name: f"vars.{name}" for name in sets.get("set_vars", {})}


def _retry(retry: Any, old: DocPath, new: DocPath, conv: Conversion) -> list[dict[str, Any]]:
    """The older `retry:` block of a task -> one `eval` retry rule."""
    if retry is True:
        retry = {}
    if not isinstance(retry, Mapping):
        conv.refuse(old, "'retry' must be true or a mapping (max_attempts, backoff_seconds...)")
        return []
    expr = "outcome.status == 'error'"
    statuses = retry.get("retry_on_status")
    if isinstance(statuses, list):
        expr += f" and outcome.http.status in {statuses!r}"
    kinds = retry.get("retry_on")
    if kinds is not None:
        known = _error_kinds(kinds, (*old, "retry_on"), conv)
        if known is None:
            return []
        expr += f" and outcome.error.kind in {known!r}"
    rule: dict[str, Any] = {"expr": "{{ " + expr + " }}", "do": "retry"}
    rule["attempts"] = int(retry.get("max_attempts", 3))
    if "backoff_seconds" in retry:
        rule["delay"] = retry["backoff_seconds"]
    backoff = retry.get("backoff")
    if backoff in ("fixed", "linear", "exponential"):
        rule["backoff"] = backoff
    elif isinstance(backoff, int | float) and not isinstance(backoff, bool):
        rule.setdefault("delay", backoff)
        conv.note(new, f"retry 'backoff: {backoff}' read as {backoff} seconds between attempts")
    return [rule]


# NoETL's `retry_on` error names -> the canonical error kinds (`outcome.error.kind`).
_RETRY_ON = {
    "timeout": "timeout",
    "connection_error": "connection",
    "connection": "connection",
    "http_error": "http",
}


def _error_kinds(names: Any, old: DocPath, conv: Conversion) -> list[str] | None:
    """The error kinds a `retry_on` list names (None, refused, when it names others)."""
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        conv.refuse(old, "'retry_on' must be a list of error names")
        return None
    unknown = [name for name in names if name not in _RETRY_ON]
    if unknown:
        known = ", ".join(sorted(_RETRY_ON))
        conv.refuse(old, f"cannot convert retry_on {unknown[0]!r} (known: {known})")
        return None
    return list(dict.fromkeys(_RETRY_ON[name] for name in names))
