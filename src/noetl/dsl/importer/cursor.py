"""NoETL cursor loops (`loop.cursor`) -> a parallel loop of draining pipelines.

A cursor loop runs its claim query (SQL that leases rows with `FOR UPDATE SKIP LOCKED ...
RETURNING`) on `max_in_flight` workers at once; each runs the step's pipeline once per claimed
row, with the row as `iter.<iterator>`, and claims again until the query returns no row. The
engine has no claim-until-empty loop, but its pipelines can jump: each of `max_in_flight`
iterations of a parallel loop runs

    cursor_claim  the claim query; no row: break (this drainer is done); else keep the rows
    cursor_row    the next kept row as iter.<iterator>; none left: jump to cursor_claim
    ...           the step's own tasks (a `break` of theirs ends the row: jump to cursor_next)
    cursor_next   jump to cursor_row with the row index advanced

(with `frame.process: frame` the pipeline runs once per claim, the claimed rows as
iter.<iterator>, and cursor_next jumps back to cursor_claim).

The claim query's `__frame_max_rows` (NoETL injects `frame.max_rows` there) becomes that number;
the other `frame` fields are advisory in NoETL too (the claim SQL keeps its own leases) and are
dropped with a note. The loop's result is one entry per drainer (its last claim's result), not
one per row: steps after a cursor loop in NoETL read the table the rows live in.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from noetl.dsl.check import DocPath
from noetl.dsl.importer.context import Conversion
from noetl.dsl.importer.expressions import Names, rewrite_value

CLAIM, ROW, NEXT = "cursor_claim", "cursor_row", "cursor_next"
_ROWS, _INDEX = "cursor_rows", "cursor_index"
_FRAME_ROWS = re.compile(r"\b__frame_max_rows\b")
_ONE_TEMPLATE = re.compile(r"^\s*\{\{(.*)\}\}\s*$", re.DOTALL)
_CLAIM_FIELDS = frozenset({"kind", "auth", "credential", "claim"})


def convert_cursor_loop(
    loop: Mapping[str, Any], old: DocPath, new: DocPath, conv: Conversion, names: Names
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The canonical `loop` of a cursor loop at `old`, and the claim task that starts each
    drainer's pipeline; None (with refusals recorded) when it cannot be converted."""
    cursor = loop.get("cursor")
    spec = mapping(loop.get("spec"))
    if not isinstance(cursor, Mapping) or not isinstance(cursor.get("claim"), str):
        conv.refuse((*old, "cursor"), "a 'loop.cursor' needs a 'claim' query (SQL text)")
        return None
    kind = cursor.get("kind", "postgres")
    if kind != "postgres":
        conv.refuse((*old, "cursor", "kind"), f"cannot convert a cursor of kind '{kind}'")
        return None
    for key in sorted(set(cursor) - _CLAIM_FIELDS):
        conv.refuse((*old, "cursor", key), f"cannot convert loop.cursor field '{key}'")
    width = rewrite_value(spec.get("max_in_flight", 1), names)
    drainers = _drainers(width, (*old, "spec", "max_in_flight"), conv)
    if drainers is None:
        return None
    rows = mapping(spec.get("frame")).get("max_rows", 1)
    claim_sql = _FRAME_ROWS.sub(str(int(rows) if isinstance(rows, int) else 1), cursor["claim"])
    claim: dict[str, Any] = {"kind": "postgres", "query": rewrite_value(claim_sql, names)}
    auth = cursor.get("auth", cursor.get("credential"))
    if auth is not None:
        claim["auth"] = rewrite_value(auth, names)
    claim["eval"] = [
        {"expr": "{{ outcome.status == 'success' and not outcome.result.rows }}", "do": "break"},
        {
            "expr": "{{ outcome.status == 'success' }}",
            "do": "continue",
            "set_vars": {_ROWS: "{{ outcome.result.rows }}", _INDEX: 0},
        },
    ]
    iterator = str(loop.get("iterator", "item"))
    canonical = {
        "in": drainers[0],
        "iterator": "cursor_worker",
        "spec": {"mode": "parallel", "max_in_flight": drainers[1]},
    }
    conv.place(new, old)
    unit = f"row (iter.{iterator})" if per_row(loop) else f"claim (its rows: iter.{iterator})"
    conv.note(
        new,
        f"cursor loop: {drainers[1]} parallel drainers each claim rows and run the pipeline once "
        f"per {unit} until the claim returns none; 'frame' settings dropped (advisory)",
    )
    return canonical, claim


def drain(pipeline: list[Any], claim: dict[str, Any], iterator: str, per_row: bool) -> list[Any]:
    """The step's converted pipeline wrapped in the claim / row / next tasks. `per_row`: the
    pipeline runs once per claimed row (NoETL's `frame.process: row`), else once per claim with
    the claimed rows as `iter.<iterator>` (`process: frame`)."""
    own = [_row_break_continues(entry) for entry in pipeline]
    if not per_row:
        rules = claim["eval"]
        rules[1] = {**rules[1], "set_iter": {iterator: "{{ outcome.result.rows }}"}}
        again = {"else": {"do": "jump", "to": CLAIM}}
        return [{CLAIM: claim}, *own, {NEXT: {"kind": "noop", "eval": [again]}}]
    done = f"{{{{ vars.{_INDEX} >= (vars.{_ROWS} | length) }}}}"
    take = {iterator: f"{{{{ vars.{_ROWS}[vars.{_INDEX}] }}}}"}
    row = {
        "kind": "noop",
        "eval": [
            {"expr": done, "do": "jump", "to": CLAIM},
            {"else": {"do": "continue", "set_iter": take}},
        ],
    }
    step_on = {_INDEX: f"{{{{ vars.{_INDEX} + 1 }}}}"}
    advance = {"else": {"do": "jump", "to": ROW, "set_vars": step_on}}
    return [{CLAIM: claim}, {ROW: row}, *own, {NEXT: {"kind": "noop", "eval": [advance]}}]


def per_row(loop: Mapping[str, Any]) -> bool:
    """Whether NoETL runs the pipeline per claimed row (`frame.process: row`, the default) or
    once per claimed frame (`process: frame`)."""
    frame = mapping(mapping(loop.get("spec")).get("frame"))
    return bool(frame.get("process", "row") != "frame")


def mapping(value: Any) -> Mapping[str, Any]:
    """`value` when it is a mapping, else an empty one (a wrong shape is refused elsewhere)."""
    return value if isinstance(value, Mapping) else {}


def _row_break_continues(entry: Any) -> Any:
    """A `break` of the step's own tasks ends one row's run, not the drainer: it jumps to
    cursor_next."""
    if not isinstance(entry, Mapping) or len(entry) != 1:
        return entry
    label, task = next(iter(entry.items()))
    if not isinstance(task, Mapping) or not isinstance(task.get("eval"), list):
        return entry
    rules = [_break_to_next(rule) for rule in task["eval"]]
    return {label: {**task, "eval": rules}}


def _break_to_next(rule: Any) -> Any:
    if not isinstance(rule, Mapping):
        return rule
    if rule.get("do") == "break":
        return {**rule, "do": "jump", "to": NEXT}
    inner = rule.get("else")
    if isinstance(inner, Mapping) and inner.get("do") == "break":
        return {**rule, "else": {**inner, "do": "jump", "to": NEXT}}
    return rule


def _drainers(value: Any, at: DocPath, conv: Conversion) -> tuple[Any, Any] | None:
    """(`loop.in`, `max_in_flight`) for `value` drainers: a number or a one-expression template."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return list(range(value)), value
    match = _ONE_TEMPLATE.match(value) if isinstance(value, str) else None
    if match is None:
        conv.refuse(
            at, f"a cursor loop's max_in_flight must be a number or a template, got {value!r}"
        )
        return None
    expression = match.group(1).strip()
    return f"{{{{ range(({expression}) | int) | list }}}}", value
