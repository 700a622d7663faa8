"""NoETL policy rules (`spec.policy.rules`: `when`/`then`/`else`) -> canonical `eval` rules."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from noetl.dsl.check import DocPath
from noetl.dsl.importer.context import Conversion
from noetl.dsl.importer.expressions import Names, rewrite_text, rewrite_value

_ACTION_FIELDS = ("do", "attempts", "backoff", "delay", "to")
# `set` keys name their scope with a prefix; a bare key is a step variable.
_SET_PREFIXES = {"ctx.": "set_ctx", "iter.": "set_iter", "vars.": "set_vars", "step.": "set_vars"}


def split_set(
    values: Mapping[str, Any], old: DocPath, conv: Conversion, names: Names
) -> dict[str, dict[str, Any]]:
    """A NoETL `set` map -> `{set_ctx: {...}, set_vars: {...}, set_iter: {...}}` (non-empty
    ones), with the values' templates rewritten."""
    out: dict[str, dict[str, Any]] = {}
    for key, value in values.items():
        target, name = "set_vars", str(key)
        for prefix, scope in _SET_PREFIXES.items():
            if name.startswith(prefix):
                target, name = scope, name[len(prefix) :]
                break
        if not name or "." in name:
            conv.refuse(
                (*old, key),
                f"cannot convert set key '{key}': expected ctx.NAME, iter.NAME, vars.NAME or NAME",
            )
            continue
        out.setdefault(target, {})[name] = rewrite_value(value, names)
    return out


def convert_rules(
    rules: Any, old: DocPath, new: DocPath, conv: Conversion, names: Names
) -> list[dict[str, Any]]:
    """`spec.policy.rules` -> `eval`; `old`/`new` are the paths of the two lists."""
    if not isinstance(rules, list):
        conv.refuse(old, "spec.policy.rules must be a list of rules", key=False)
        return []
    converted: list[dict[str, Any]] = []
    for i, rule in enumerate(rules):
        rule_names = Names(names.roots, True, names.steps, names.loop_steps)
        out = _rule(rule, (*old, i), conv, rule_names)
        if out is not None:
            conv.place((*new, len(converted)), (*old, i))
            converted.append(out)
    return converted


def _rule(rule: Any, old: DocPath, conv: Conversion, names: Names) -> dict[str, Any] | None:
    if not isinstance(rule, Mapping):
        conv.refuse(old, "a policy rule is a mapping with when/then or else", key=False)
        return None
    if "else" in rule:
        body = rule["else"]
        if body is None and set(rule) == {"else", "then"}:
            # `- else:` with `then:` beside it (one indent short): what the author meant
            return _rule({"else": {"then": rule["then"]}}, old, conv, names)
        if not isinstance(body, Mapping):
            conv.refuse((*old, "else"), "'else' holds {then: {do: ...}} or {do: ...}")
            return None
        then = body.get("then", body)
        action = _action(then, (*old, "else", "then" if "then" in body else ""), conv, names)
        return None if action is None else {"else": action}
    unknown = sorted(set(rule) - {"when", "then"})
    if unknown:
        conv.refuse((*old, unknown[0]), f"cannot convert policy rule field '{unknown[0]}'")
        return None
    if "when" not in rule or "then" not in rule:
        conv.refuse(old, "a policy rule needs 'when' and 'then' (or is an 'else' rule)", key=False)
        return None
    action = _action(rule["then"], (*old, "then"), conv, names)
    if action is None:
        return None
    return {"expr": rewrite_text(str(rule["when"]), names), **action}


def _action(then: Any, old: DocPath, conv: Conversion, names: Names) -> dict[str, Any] | None:
    old = tuple(seg for seg in old if seg != "")
    if not isinstance(then, Mapping):
        conv.refuse(old, "'then' is a mapping like {do: retry, attempts: 3}", key=False)
        return None
    unknown = sorted(set(then) - {*_ACTION_FIELDS, "set"})
    if unknown:
        conv.refuse((*old, unknown[0]), f"cannot convert rule action field '{unknown[0]}'")
        return None
    action: dict[str, Any] = {key: then[key] for key in _ACTION_FIELDS if key in then}
    action.setdefault("do", "continue")
    if isinstance(then.get("set"), Mapping):
        action.update(split_set(then["set"], (*old, "set"), conv, names))
    return action
