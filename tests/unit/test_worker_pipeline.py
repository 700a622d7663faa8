"""The worker pipeline: events, eval actions, scopes, timeouts and errors of one step run."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import pytest

from noetl.dsl.templates import RENDERER
from noetl.engine.commands import Command
from noetl.engine.definition import EvalRule, PlaybookDef, StepDef, TaskDef
from noetl.engine.events import Event
from noetl.tools.base import Resources
from noetl.worker import step_run
from noetl.worker.pipeline import run_command
from noetl.worker.step_run import Runner


def task(label: str, kind: str = "noop", *, eval=(), args=None, timeout=None, **config) -> TaskDef:
    return TaskDef(
        label=label,
        kind=kind,
        config=config,
        args=args or {},
        eval=tuple(eval),
        timeout=timeout,
    )


def playbook(*tasks: TaskDef, workbook: dict[str, TaskDef] | None = None) -> PlaybookDef:
    return PlaybookDef(
        name="t",
        steps=(StepDef(name="s", tasks=tasks),),
        renderer=RENDERER,
        workbook=workbook or {},
    )


class Recorder:
    """An injected `sleep` that records the delays instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def run(
    pb: PlaybookDef,
    *,
    scope: dict[str, Any] | None = None,
    timeout: float | None = None,
    sleep: Any = None,
    step: str = "s",
    on_event: Any = None,
) -> list[Event]:
    command = Command(
        command_id="c1",
        execution_id="e1",
        step=step,
        token=1,
        iteration=4,
        args={"n": 2},
        timeout=timeout,
    )
    base = {
        "workload": {"w": 1},
        "ctx": {"c": 1},
        "args": dict(command.args),
        "iter": {},
        "execution_id": "e1",
    }
    base.update(scope or {})
    kwargs: dict[str, Any] = {"on_event": on_event, "runner": Runner("w-1", 2)}
    if sleep is not None:
        kwargs["sleep"] = sleep
    events = asyncio.run(run_command(pb, command, base, Resources(), **kwargs))
    # Every run opens with command.started (its own test checks it); the rest is the pipeline's.
    assert events[0].type == "command.started", events[0]
    return events[1:]


def types(events: list[Event]) -> list[str]:
    return [e.type for e in events]


def ending(events: list[Event]) -> dict[str, Any]:
    return dict(events[-1].payload)


# --- events -----------------------------------------------------------------------------------


def test_noop_step_emits_task_then_step_events_with_keys_and_identity():
    seen: list[Event] = []
    events = run(playbook(task("a", result={"x": 1})), on_event=seen.append)
    assert types(events) == ["task.done", "step.done"]
    assert seen[1:] == events
    started = seen[0]
    assert started.payload == {"worker_id": "w-1", "attempt": 2}
    assert started.idempotency_key == "command.started|c1|2"
    done, end = events
    assert done.payload["task"] == "a"
    assert done.payload["kind"] == "noop"
    assert done.payload["attempt"] == 1
    assert done.payload["worker_id"] == "w-1"
    assert done.payload["result"] == {"x": 1}
    assert done.payload["duration_ms"] >= 0
    assert done.idempotency_key == "task.done|c1|1"
    assert end.idempotency_key == "step.end|c1"
    duration = end.payload["duration_ms"]
    assert duration >= done.payload["duration_ms"]
    assert end.payload == {
        "result": {"x": 1},
        "vars": {},
        "set_ctx": {},
        "worker_id": "w-1",
        "attempt": 2,
        "duration_ms": duration,
    }
    times = [datetime.fromisoformat(e.created_at) for e in seen]
    assert times == sorted(times) and all(t.utcoffset() == timedelta(0) for t in times)
    for event in seen:
        assert (event.origin, event.step, event.iteration, event.command_id) == (
            "worker",
            "s",
            4,
            "c1",
        )
        assert event.execution_id == "e1"


def test_tasks_see_args_workload_ctx_prev_task_attempt_and_results():
    pb = playbook(
        task("a", result="{{ args.n * workload.w + ctx.c }}"),
        task(
            "b",
            result={
                "prev": "{{ _prev }}",
                "task": "{{ _task }}",
                "attempt": "{{ _attempt }}",
                "a": "{{ results.a }}",
                "exe": "{{ execution_id }}",
            },
        ),
    )
    events = run(pb)
    assert ending(events)["result"] == {"prev": 3, "task": "b", "attempt": 1, "a": 3, "exe": "e1"}


def test_tool_receives_rendered_task_args_while_scope_args_stay_the_arc_args():
    pb = playbook(
        task("a", "python", args={"k": "{{ args.n + 1 }}"}, code="result = k"),
        task("b", result="{{ args.n }}"),
    )
    events = run(pb)
    assert events[0].payload["result"] == 3
    assert ending(events)["result"] == 2


def test_empty_pipeline_is_done_with_no_result():
    assert types(run(playbook())) == ["step.done"]


def test_unknown_step_fails_with_config_error():
    events = run(playbook(task("a")), step="nope")
    assert types(events) == ["step.failed"]
    assert ending(events)["error"]["kind"] == "config"
    assert "unknown step 'nope'" in ending(events)["error"]["message"]


# --- defaults without rules -------------------------------------------------------------------


def test_no_rule_success_continues_to_the_last_task():
    events = run(playbook(task("a", result=1), task("b", result=2), task("c", result=3)))
    assert types(events) == ["task.done"] * 3 + ["step.done"]
    assert ending(events)["result"] == 3


def test_no_rule_error_fails_the_step_and_stops_the_pipeline():
    pb = playbook(task("a", "python", code="x = 1\nraise ValueError('bad')"), task("b"))
    events = run(pb)
    assert types(events) == ["task.failed", "step.failed"]
    failed = events[0].payload
    assert failed["error"]["kind"] == "python"
    assert failed["error"]["message"] == "ValueError: bad (line 2)"
    assert events[0].idempotency_key == "task.failed|c1|1"
    assert ending(events)["error"] == {
        "kind": "python",
        "message": "ValueError: bad (line 2)",
        "retryable": False,
        "code": None,
        "status_code": None,
        "task": "a",
        "traceback": "Traceback (most recent call last):\n"
        "  line 2, in <module>\n"
        "    raise ValueError('bad')\n"
        "ValueError: bad",
    }


def test_unknown_kind_is_a_config_error_listing_known_kinds():
    events = run(playbook(task("a", "telepathy")))
    error = events[0].payload["error"]
    assert error["kind"] == "config"
    assert "'telepathy'" in error["message"]
    assert "noop" in error["message"] and "python" in error["message"]
    assert types(events) == ["task.failed", "step.failed"]


# --- eval actions -----------------------------------------------------------------------------

ERROR = "{{ outcome.status == 'error' }}"
FLAKY = "if attempt < 3:\n    raise ValueError('flaky')\nresult = attempt"


def flaky(eval_rules, label: str = "a") -> TaskDef:
    return task(label, "python", args={"attempt": "{{ _attempt }}"}, code=FLAKY, eval=eval_rules)


def test_retry_succeeds_on_the_third_attempt_with_exponential_backoff():
    sleep = Recorder()
    rule = EvalRule(do="retry", expr=ERROR, attempts=5, backoff="exponential", delay=0.5)
    events = run(playbook(flaky([rule])), sleep=sleep)
    assert types(events) == ["task.failed", "task.failed", "task.done", "step.done"]
    assert [e.payload["attempt"] for e in events[:3]] == [1, 2, 3]
    assert [e.idempotency_key for e in events[:3]] == [
        "task.failed|c1|1",
        "task.failed|c1|2",
        "task.done|c1|3",
    ]
    assert sleep.delays == [0.5, 1.0]
    assert ending(events)["result"] == 3


@pytest.mark.parametrize(
    "backoff, delays",
    [("none", []), ("fixed", [0.2, 0.2]), ("linear", [0.2, 0.4]), ("exponential", [0.2, 0.4])],
)
def test_each_backoff_shapes_the_waits(backoff, delays):
    sleep = Recorder()
    rule = EvalRule(do="retry", expr=ERROR, attempts=3, backoff=backoff, delay=0.2)
    run(playbook(flaky([rule])), sleep=sleep)
    assert sleep.delays == pytest.approx(delays)


def test_retries_exhausted_fail_the_step_with_the_last_error():
    sleep = Recorder()
    rule = EvalRule(do="retry", expr=ERROR, attempts=2, backoff="fixed", delay=1.0)
    events = run(playbook(flaky([rule]), task("b")), sleep=sleep)
    assert types(events) == ["task.failed", "task.failed", "step.failed"]
    assert sleep.delays == [1.0]
    assert ending(events)["error"]["message"] == "ValueError: flaky (line 2)"
    assert ending(events)["error"]["task"] == "a"


def test_retry_of_a_success_outcome_exhausts_with_its_own_kind():
    rule = EvalRule(do="retry", expr="{{ outcome.result < 10 }}", attempts=3)
    events = run(playbook(task("a", result=1, eval=[rule])))
    assert types(events) == ["task.done"] * 3 + ["step.failed"]
    error = ending(events)["error"]
    assert error["kind"] == "retry_exhausted"
    assert "eval[0]" in error["message"] and "3 attempts" in error["message"]


def test_retry_honours_a_longer_retry_after_from_the_tool():
    sleep = Recorder()
    code = (
        "from noetl.errors import ToolError\n"
        "if attempt < 2:\n"
        "    raise ToolError('busy', kind='http', retryable=True, status_code=429,"
        " retry_after=7.0)\n"
        "result = 'ok'"
    )
    retryable = "{{ outcome.status == 'error' and outcome.error.retryable }}"
    rule = EvalRule(do="retry", expr=retryable, attempts=3, backoff="fixed", delay=1)
    pb = playbook(task("a", "python", args={"attempt": "{{ _attempt }}"}, code=code, eval=[rule]))
    events = run(pb, sleep=sleep)
    assert sleep.delays == [7.0]
    assert events[0].payload["error"]["retry_after"] == 7.0
    assert events[0].payload["error"]["status_code"] == 429
    assert ending(events)["result"] == "ok"


def test_break_ends_the_step_with_the_breaking_task_result():
    pb = playbook(task("a", result=1, eval=[EvalRule(do="break")]), task("b", result=2))
    events = run(pb)
    assert types(events) == ["task.done", "step.done"]
    assert ending(events)["result"] == 1


def test_fail_on_success_names_the_rule():
    rule = EvalRule(do="fail", expr="{{ outcome.result == 1 }}")
    events = run(playbook(task("a", result=1, eval=[rule])))
    error = ending(events)["error"]
    assert error["kind"] == "eval_fail"
    assert "eval[0]" in error["message"] and "outcome.result == 1" in error["message"]
    assert error["task"] == "a"


def test_fail_on_error_keeps_the_tool_error():
    pb = playbook(task("a", "python", code="1/0", eval=[EvalRule(do="fail", expr=ERROR)]))
    error = ending(run(pb))["error"]
    assert (error["kind"], error["message"]) == (
        "python",
        "ZeroDivisionError: division by zero (line 1)",
    )


def test_continue_on_error_lets_the_pipeline_go_on_with_no_result():
    pb = playbook(
        task("a", "python", code="1/0", eval=[EvalRule(do="continue", expr=ERROR)]),
        task("b", result="{{ _prev is none }}"),
    )
    events = run(pb)
    assert types(events) == ["task.failed", "task.done", "step.done"]
    assert ending(events)["result"] is True


def test_first_matching_rule_wins_and_else_catches_the_rest():
    rules = [
        EvalRule(do="fail", expr="{{ outcome.result > 5 }}"),
        EvalRule(do="break", expr="{{ outcome.result > 2 }}"),
        EvalRule(do="continue"),
    ]
    assert types(run(playbook(task("a", result=9, eval=rules), task("b"))))[-1] == "step.failed"
    assert len(run(playbook(task("a", result=3, eval=rules), task("b")))) == 2
    assert len(run(playbook(task("a", result=1, eval=rules), task("b")))) == 3


def test_false_looking_text_does_not_match():
    rule = EvalRule(do="fail", expr="{{ outcome.status }} is {{ 'false' }}")
    rule_false = EvalRule(do="fail", expr="{% if outcome.result %}no{% endif %}")
    assert types(run(playbook(task("a", result=1, eval=[rule]))))[-1] == "step.failed"
    assert types(run(playbook(task("a", result=1, eval=[rule_false]))))[-1] == "step.done"


def test_pagination_with_jump_and_set_vars():
    fetch = task(
        "fetch",
        "python",
        args={"page": "{{ vars.page | default(1) }}"},
        code="result = {'items': [page * 10, page * 10 + 1], 'more': page < 3}",
    )
    collect = task(
        "collect",
        "python",
        args={"items": "{{ (vars.all | default([])) + _prev['items'] }}"},
        code="result = items",
        eval=[
            EvalRule(
                do="jump",
                expr="{{ results.fetch.more }}",
                to="fetch",
                set_vars={
                    "page": "{{ vars.page | default(1) + 1 }}",
                    "all": "{{ outcome.result }}",
                },
            ),
            EvalRule(do="break", set_vars={"all": "{{ outcome.result }}"}),
        ],
    )
    events = run(playbook(fetch, collect, task("never", result="x")))
    assert types(events) == ["task.done"] * 6 + ["step.done"]
    assert [e.payload["task"] for e in events[:6]] == ["fetch", "collect"] * 3
    assert [e.idempotency_key for e in events[:6]] == [f"task.done|c1|{n}" for n in range(1, 7)]
    assert all(e.payload["attempt"] == 1 for e in events[:6])
    end = ending(events)
    assert end["result"] == [10, 11, 20, 21, 30, 31]
    assert end["vars"] == {"page": 3, "all": [10, 11, 20, 21, 30, 31]}


def test_jump_to_an_unknown_task_fails_with_config_error():
    events = run(playbook(task("a", eval=[EvalRule(do="jump", to="zzz")])))
    error = ending(events)["error"]
    assert error["kind"] == "config" and "'zzz'" in error["message"]


def test_runaway_jump_loop_is_stopped(monkeypatch):
    monkeypatch.setattr(step_run, "MAX_TASK_RUNS", 25)
    events = run(playbook(task("a", eval=[EvalRule(do="jump", to="a")])))
    assert types(events) == ["task.done"] * 25 + ["step.failed"]
    assert ending(events)["error"]["kind"] == "runaway"


# --- set_ctx / set_vars / set_iter --------------------------------------------------------------


def test_set_ctx_is_merged_in_order_and_visible_to_later_tasks():
    pb = playbook(
        task("a", result=1, eval=[EvalRule(do="continue", set_ctx={"x": 1, "y": "first"})]),
        task("b", result="{{ ctx.x + ctx.c }}", eval=[EvalRule(do="continue", set_ctx={"y": 2})]),
        task("c", result="{{ ctx }}"),
    )
    scope_ctx = {"c": 10}
    events = run(pb, scope={"ctx": scope_ctx})
    end = ending(events)
    assert end["set_ctx"] == {"x": 1, "y": 2}
    assert events[1].payload["result"] == 11
    assert end["result"] == {"c": 10, "x": 1, "y": 2}
    assert scope_ctx == {"c": 10}  # the runtime's scope is not mutated


def test_set_vars_and_set_iter_are_visible_to_later_tasks_and_see_the_outcome():
    rule = EvalRule(
        do="continue",
        set_vars={"seen": "{{ outcome.result }}", "meta": "{{ outcome.meta.attempt }}"},
        set_iter={"index": "{{ iter.index + 100 }}"},
    )
    pb = playbook(
        task("a", result="r", eval=[rule]),
        task("b", result={"v": "{{ vars.seen }}", "i": "{{ iter.index }}", "c": "{{ iter.city }}"}),
    )
    iter_scope = {"city": "Paris", "index": 2}
    events = run(pb, scope={"iter": iter_scope})
    end = ending(events)
    assert end["result"] == {"v": "r", "i": 102, "c": "Paris"}
    assert end["vars"] == {"seen": "r", "meta": 1}
    assert iter_scope == {"city": "Paris", "index": 2}


def test_outcome_envelope_of_an_error_as_eval_sees_it():
    rule = EvalRule(do="continue", set_vars={"o": "{{ outcome }}"})
    events = run(playbook(task("a", "python", code="1/0", eval=[rule])))
    outcome = ending(events)["vars"]["o"]
    assert outcome["status"] == "error"
    assert outcome["result"] is None
    assert outcome["error"] == {
        "kind": "python",
        "message": "ZeroDivisionError: division by zero (line 1)",
        "retryable": False,
        "code": None,
        "status_code": None,
        "category": "python",
        "traceback": "Traceback (most recent call last):\n"
        "  line 1, in <module>\n"
        "    1/0\n"
        "ZeroDivisionError: division by zero",
    }
    assert outcome["http"] == {"status": None}
    assert outcome["meta"]["attempt"] == 1


def test_rules_may_read_error_fields_of_a_successful_outcome():
    rules = [
        EvalRule(do="retry", expr="{{ outcome.error.retryable or outcome.error.kind == 'x' }}"),
        EvalRule(do="fail", expr="{{ outcome.http.status in [500, 502] }}"),
        EvalRule(do="continue", set_vars={"category": "{{ outcome.error.category }}"}),
    ]
    events = run(playbook(task("a", "python", code="result = 1", eval=rules)))
    assert events[-1].type == "step.done"
    assert ending(events)["vars"] == {"category": None}


def test_error_category_names_noetl_error_kinds_by_http_status():
    from noetl.worker.outcome import error_category

    def category(status: int | None, kind: str = "http") -> str | None:
        return error_category({"kind": kind, "status_code": status})

    assert [category(s) for s in (429, 401, 403, 503, 404)] == [
        "rate_limit",
        "auth",
        "auth",
        "server_error",
        "client_error",
    ]
    assert category(None, "timeout") == "timeout"


# --- template errors --------------------------------------------------------------------------


def test_template_error_in_args_names_step_task_and_field():
    events = run(playbook(task("get", "python", args={"x": "{{ missing }}"}, code="result = x")))
    error = events[0].payload["error"]
    assert error["kind"] == "template"
    assert error["retryable"] is False
    assert "step 's' task 'get' field 'args.x'" in error["message"]
    assert "missing" in error["message"]
    assert ending(events)["error"]["kind"] == "template"


def test_template_error_in_config_names_the_field():
    events = run(playbook(task("a", result="{{ nope.deeper }}")))
    assert "step 's' task 'a' field 'result'" in events[0].payload["error"]["message"]


def test_eval_expr_that_cannot_render_fails_the_step():
    events = run(playbook(task("a", eval=[EvalRule(do="continue", expr="{{ ghost > 1 }}")])))
    assert types(events) == ["task.done", "step.failed"]
    error = ending(events)["error"]
    assert error["kind"] == "template"
    assert "step 's' task 'a' eval[0] field 'expr'" in error["message"]


def test_set_vars_that_cannot_render_fails_the_step():
    rule = EvalRule(do="continue", set_vars={"a": "{{ ghost }}"})
    error = ending(run(playbook(task("a", eval=[rule]))))["error"]
    assert error["kind"] == "template" and "eval[0] field 'set_vars'" in error["message"]


# --- timeouts ---------------------------------------------------------------------------------


def test_task_timeout_is_a_retryable_timeout_error():
    pb = playbook(task("slow", "python", code="import time\ntime.sleep(0.3)", timeout=0.05))
    events = run(pb)
    assert types(events) == ["task.failed", "step.failed"]
    error = events[0].payload["error"]
    assert error["kind"] == "timeout" and error["retryable"] is True
    assert "task 'slow'" in error["message"]


def test_task_timeout_can_be_retried():
    code = "import time\nif attempt == 1:\n    time.sleep(0.3)\nresult = attempt"
    rule = EvalRule(
        do="retry", expr="{{ outcome.error and outcome.error.kind == 'timeout' }}", attempts=2
    )
    pb = playbook(
        task(
            "a", "python", args={"attempt": "{{ _attempt }}"}, code=code, timeout=0.05, eval=[rule]
        )
    )
    events = run(pb)
    assert types(events) == ["task.failed", "task.done", "step.done"]
    assert ending(events)["result"] == 2


def test_step_timeout_bounds_the_whole_run():
    rule = EvalRule(do="retry", expr=ERROR, attempts=10, backoff="fixed", delay=30)
    pb = playbook(task("a", result=1), task("b", "python", code="1/0", eval=[rule]))
    events = run(pb, timeout=0.1)  # the real asyncio.sleep: the 30 s backoff is cut short
    assert types(events) == ["task.done", "task.failed", "step.failed"]
    error = ending(events)["error"]
    assert (error["kind"], error["retryable"], error["task"]) == ("timeout", True, "b")
    assert "step 's' timed out" in error["message"]
    assert events[-1].idempotency_key == "step.end|c1"


# --- workbook ---------------------------------------------------------------------------------


def test_workbook_task_runs_with_its_args_and_own_eval_rules():
    double = task(
        "double",
        "python",
        args={"v": "{{ args.value }}", "attempt": "{{ _attempt }}"},
        code="if attempt < 2:\n    raise ValueError('once')\nresult = v * 2",
        eval=[
            EvalRule(do="retry", expr=ERROR, attempts=3),
            EvalRule(do="continue", set_ctx={"doubled": "{{ outcome.result }}"}),
        ],
    )
    pb = playbook(
        task("call", "workbook", name="double", args={"value": "{{ args.n + 1 }}"}),
        task("after", result="{{ ctx.doubled }}"),
        workbook={"double": double},
    )
    events = run(pb)
    assert types(events) == ["task.done", "task.done", "step.done"]
    assert events[0].payload["result"] == 6
    assert ending(events)["result"] == 6
    assert ending(events)["set_ctx"] == {"doubled": 6}


def test_failing_workbook_task_fails_the_calling_task_with_its_error():
    boom = task("boom", "python", code="\n\nraise KeyError('k')")
    pb = playbook(task("call", "workbook", name="boom"), workbook={"boom": boom})
    events = run(pb)
    assert events[0].payload["error"]["message"] == "KeyError: 'k' (line 3)"
    assert ending(events)["error"]["task"] == "call"


def test_unknown_workbook_name_is_a_config_error():
    pb = playbook(task("call", "workbook", name="ghost"), workbook={"real": task("real")})
    error = run(pb)[0].payload["error"]
    assert error["kind"] == "config"
    assert "'ghost'" in error["message"] and "real" in error["message"]


def test_self_calling_workbook_task_is_bounded():
    loop = task("loop", "workbook", name="loop")
    events = run(playbook(task("call", "workbook", name="loop"), workbook={"loop": loop}))
    error = ending(events)["error"]
    assert error["kind"] == "config" and "nested deeper" in error["message"]
