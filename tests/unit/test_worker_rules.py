"""Eval rule matching, truthiness and the backoff formulas."""

from __future__ import annotations

import pytest

from noetl.dsl.templates import RENDERER
from noetl.engine.definition import EvalRule
from noetl.errors import TemplateError
from noetl.worker.rules import backoff_delay, describe_rule, is_truthy, match_rule


@pytest.mark.parametrize(
    "backoff, attempt, expected",
    [
        ("none", 1, 0.0),
        ("none", 4, 0.0),
        ("fixed", 1, 1.5),
        ("fixed", 4, 1.5),
        ("linear", 1, 1.5),
        ("linear", 4, 6.0),
        ("exponential", 1, 1.5),
        ("exponential", 2, 3.0),
        ("exponential", 4, 12.0),
    ],
)
def test_backoff_formulas(backoff, attempt, expected):
    rule = EvalRule(do="retry", backoff=backoff, delay=1.5)
    assert backoff_delay(rule, attempt) == pytest.approx(expected)


def test_retry_after_wins_only_when_longer():
    rule = EvalRule(do="retry", backoff="fixed", delay=2.0)
    assert backoff_delay(rule, 1, retry_after=5) == 5.0
    assert backoff_delay(rule, 1, retry_after=0.5) == 2.0
    assert backoff_delay(EvalRule(do="retry"), 1, retry_after=3) == 3.0


@pytest.mark.parametrize(
    "value, expected",
    [
        (True, True),
        (False, False),
        (None, False),
        (0, False),
        (2, True),
        ([], False),
        ([0], True),
        ("False", False),
        (" false ", False),
        ("None", False),
        ("0", False),
        ("", False),
        ("yes", True),
        ("error", True),
    ],
)
def test_truthiness_of_rendered_expressions(value, expected):
    assert is_truthy(value) is expected


def test_first_truthy_rule_or_else_matches():
    rules = (
        EvalRule(do="fail", expr="{{ n > 5 }}"),
        EvalRule(do="break", expr="{{ n > 2 }}"),
        EvalRule(do="continue"),
    )
    assert match_rule(rules, {"n": 9}, RENDERER, "here") == (0, rules[0])
    assert match_rule(rules, {"n": 3}, RENDERER, "here") == (1, rules[1])
    assert match_rule(rules, {"n": 1}, RENDERER, "here") == (2, rules[2])
    assert match_rule(rules[:2], {"n": 1}, RENDERER, "here") is None


def test_an_expr_that_cannot_render_raises_naming_the_rule():
    rules = (EvalRule(do="fail", expr="{{ ghost }}"),)
    with pytest.raises(TemplateError, match=r"step 'a' task 'b' eval\[0\] field 'expr'"):
        match_rule(rules, {}, RENDERER, "step 'a' task 'b'")


def test_describe_rule():
    assert describe_rule(2, EvalRule(do="continue")) == "eval[2] (else)"
    assert describe_rule(0, EvalRule(do="fail", expr="{{ x }}")) == "eval[0] (expr '{{ x }}')"
