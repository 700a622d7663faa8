"""`eval` rules: which rule matches an outcome, and how long a retry waits."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from noetl.engine.definition import EvalRule, Renderer

# Strings a mixed-text template may render to that mean "no" (a pure `{{ expr }}` yields a
# native bool instead, so this only matters for hand-written text like "false").
_FALSE_TEXT = frozenset({"", "false", "0", "no", "none", "null"})


def is_truthy(value: Any) -> bool:
    """Truthiness of a rendered `expr`: Python's, except that false-looking text is false."""
    if isinstance(value, str):
        return value.strip().lower() not in _FALSE_TEXT
    return bool(value)


def match_rule(
    rules: tuple[EvalRule, ...],
    scope: Mapping[str, Any],
    renderer: Renderer,
    where: str,
) -> tuple[int, EvalRule] | None:
    """The first rule whose `expr` renders truthy (or the `else` rule), with its index.

    `where` locates the task in messages ("step 'a' task 'b'"). Raises `TemplateError` when an
    `expr` cannot be rendered: a broken rule must fail the step, not be skipped silently.
    """
    for index, rule in enumerate(rules):
        if rule.expr is None:
            return index, rule
        value = renderer.render(rule.expr, scope, where=f"{where} eval[{index}] field 'expr'")
        if is_truthy(value):
            return index, rule
    return None


def backoff_delay(rule: EvalRule, attempt: int, retry_after: float | None = None) -> float:
    """Seconds to wait before re-running a task whose attempt number `attempt` (1-based) failed.

    none: 0, fixed: delay, linear: delay * attempt, exponential: delay * 2 ** (attempt - 1).
    A `retry_after` the tool reported wins when it is longer.
    """
    if rule.backoff == "fixed":
        delay = rule.delay
    elif rule.backoff == "linear":
        delay = rule.delay * attempt
    elif rule.backoff == "exponential":
        delay = rule.delay * 2 ** (attempt - 1)
    else:
        delay = 0.0
    if retry_after is not None and retry_after > delay:
        return float(retry_after)
    return float(delay)


def describe_rule(index: int, rule: EvalRule) -> str:
    """`eval[1] (expr '{{ ... }}')` or `eval[2] (else)`, for messages."""
    if rule.expr is None:
        return f"eval[{index}] (else)"
    return f"eval[{index}] (expr {rule.expr!r})"
