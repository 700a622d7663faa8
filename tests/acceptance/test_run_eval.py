"""Eval rules through `noetl run --json`: continue, retry with every backoff, jump, break, fail,
and task timeouts that are retried.

Every playbook below is run once, all of them at once (module fixture `runs`); each test then
asserts one rule on its run's result and on the event log (`noetl events ID --json`), where each
attempt of a task is a `task.done` or `task.failed` event.
"""

from __future__ import annotations

import re

import pytest

FLAKY = """
import time
if a < 4:
    raise RuntimeError("at=" + repr(time.monotonic()))
result = {"attempt": a, "at": time.monotonic()}
"""


def flaky(label: str, backoff: str) -> str:
    """A task failing on attempts 1-3 and succeeding on 4, retried with `backoff`."""
    code = "\n".join("              " + line for line in FLAKY.strip().splitlines())
    return f"""
      - {label}:
          kind: python
          args: {{a: "{{{{ _attempt }}}}"}}
          code: |
{code}
          eval:
            - expr: "{{{{ outcome.status == 'error' }}}}"
              do: retry
              attempts: 4
              backoff: {backoff}
              delay: 50ms"""


JOBS: dict[str, tuple[str, list[str]]] = {
    "backoff": (
        "workflow:\n  - step: start\n    tool:"
        + flaky("none", "none")
        + flaky("fixed", "fixed")
        + flaky("linear", "linear")
        + flaky("exponential", "exponential")
        + """
      - all:
          kind: python
          args: {r: "{{ [results.none, results.fixed, results.linear, results.exponential] }}"}
          code: "result = r"
""",
        [],
    ),
    "retry_exhausted": (
        """
        workflow:
          - step: stubborn
            tool:
              kind: python
              args: {a: "{{ _attempt }}"}
              code: "raise RuntimeError('no luck on attempt ' + str(a))"
              eval:
                - {expr: "{{ outcome.status == 'error' }}", do: retry, attempts: 2}
        """,
        [],
    ),
    "retry_default_attempts": (
        """
        workflow:
          - step: start
            tool:
              kind: python
              args: {a: "{{ _attempt }}"}
              code: "raise RuntimeError('attempt ' + str(a))"
              eval:
                - {expr: "{{ outcome.status == 'error' }}", do: retry}
        """,
        [],
    ),
    "jump_break": (
        """
        workflow:
          - step: start
            tool:
              - count:
                  kind: python
                  args: {n: "{{ vars.n | default(0) }}"}
                  code: "result = n + 1"
                  eval:
                    - expr: "{{ outcome.result < 4 }}"
                      do: jump
                      to: count
                      set_vars: {n: "{{ outcome.result }}"}
                    - else: {do: break}
              - never: {kind: python, code: "raise RuntimeError('break must end the pipeline')"}
            next: forward
          - step: forward
            tool:
              - a:
                  kind: noop
                  result: 1
                  eval: [{expr: "{{ outcome.status == 'success' }}", do: jump, to: c}]
              - b: {kind: python, code: "raise RuntimeError('jumped over')"}
              - c:
                  kind: python
                  args: {p: "{{ _prev }}", s: "{{ start }}"}
                  code: "result = [s, p]"
        """,
        [],
    ),
    "continue_after_error": (
        """
        workflow:
          - step: start
            tool:
              - shaky:
                  kind: python
                  code: "raise LookupError('tolerated')"
                  eval:
                    - expr: "{{ outcome.status == 'error' }}"
                      do: continue
                      set_vars: {why: "{{ outcome.error.message }}"}
              - after: {kind: python, args: {why: "{{ vars.why }}"}, code: "result = why"}
        """,
        [],
    ),
    "fail_rule": (
        """
        workflow:
          - step: judge
            tool:
              kind: noop
              result: 11
              eval:
                - {expr: "{{ outcome.result > 10 }}", do: fail}
            next: unreachable_on_failure
          - step: unreachable_on_failure
            tool: {kind: noop, result: reached}
        """,
        [],
    ),
    "task_timeout_retry": (
        """
        workflow:
          - step: start
            tool:
              kind: python
              timeout: 300ms
              args: {a: "{{ _attempt }}"}
              code: |
                import time
                if a == 1:
                    time.sleep(2)
                result = a
              eval:
                - expr: "{{ outcome.status == 'error' and outcome.error.kind == 'timeout' }}"
                  do: retry
                  attempts: 2
        """,
        [],
    ),
}


# the runs whose tests also read the event log
LOGS = set(JOBS) - {"continue_after_error"}


@pytest.fixture(scope="module")
def runs(module_cli):
    """Every playbook of this module, run once, all at once."""
    return module_cli.run_many(JOBS, logs=LOGS)


def task_events(cli, outcome, task=None):
    """(type, task, attempt) of the task.* events, in order."""
    return [
        (e["type"], e["payload"]["task"], e["payload"]["attempt"])
        for e in cli.events(outcome)
        if e["type"].startswith("task.") and task in (None, e["payload"]["task"])
    ]


def test_every_playbook_has_a_test():
    names = {n.removeprefix("test_") for n in globals() if n.startswith("test_")}
    assert set(JOBS) <= names


WAITS = {  # the wait before retry n, after attempt n failed (delay 50ms; docs/dsl.md)
    "none": lambda n: 0.0,
    "fixed": lambda n: 0.05,
    "linear": lambda n: 0.05 * n,
    "exponential": lambda n: 0.05 * 2 ** (n - 1),
}


def test_backoff(runs, module_cli):
    outcome = runs["backoff"]
    assert [r["attempt"] for r in outcome.result] == [4, 4, 4, 4]
    for label, finished in zip(WAITS, outcome.result, strict=True):
        failed = task_events(module_cli, outcome, label)
        assert failed[:3] == [("task.failed", label, n) for n in (1, 2, 3)]
        assert failed[3] == ("task.done", label, 4)
        # Each failing attempt raised with its clock reading; the next attempt started at least
        # the backoff's wait later (a lower bound only: sleeping never ends early).
        raised = [
            float(re.search(r"at=([0-9.]+)", e["payload"]["error"]["message"]).group(1))
            for e in module_cli.events(outcome)
            if e["type"] == "task.failed" and e["payload"]["task"] == label
        ]
        starts = [*raised[1:], finished["at"]]
        for n, (before, after) in enumerate(zip(raised, starts, strict=True), start=1):
            assert after - before >= WAITS[label](n) - 0.002, (label, n, after - before)


def test_retry_exhausted(runs, module_cli):
    error = runs["retry_exhausted"].error
    assert error["step"] == "stubborn"
    assert "no luck on attempt 2" in error["message"]
    assert task_events(module_cli, runs["retry_exhausted"]) == [
        ("task.failed", "stubborn", 1),
        ("task.failed", "stubborn", 2),
    ]


def test_retry_default_attempts(runs, module_cli):
    # retry without `attempts` makes 3 attempts in all, then the step fails
    assert "attempt 3" in runs["retry_default_attempts"].error["message"]
    attempts = [a for _, _, a in task_events(module_cli, runs["retry_default_attempts"])]
    assert attempts == [1, 2, 3]


def test_jump_break(runs, module_cli):
    # `count` jumps to itself until its result is 4, then breaks: `never` does not run and the
    # step's result is the breaking task's. `forward` jumps over `b` to `c`.
    assert runs["jump_break"].result == [4, 1]
    ran = [(task, n) for _, task, n in task_events(module_cli, runs["jump_break"])]
    assert ran == [("count", 1), ("count", 1), ("count", 1), ("count", 1), ("a", 1), ("c", 1)]


def test_continue_after_error(runs):
    # `continue` on an error goes on with the next task; set_vars carried the message
    assert runs["continue_after_error"].result == "LookupError: tolerated (line 1)"


def test_fail_rule(runs, module_cli):
    error = runs["fail_rule"].error
    assert error["step"] == "judge"
    assert "judge" in error["message"]
    steps = {e["step"] for e in module_cli.events(runs["fail_rule"]) if e["type"] == "step.started"}
    assert steps == {"judge"}


def test_task_timeout_retry(runs, module_cli):
    assert runs["task_timeout_retry"].result == 2
    failed = [
        e["payload"]["error"]
        for e in module_cli.events(runs["task_timeout_retry"])
        if e["type"] == "task.failed"
    ]
    assert [(f["kind"], f["retryable"]) for f in failed] == [("timeout", True)]
