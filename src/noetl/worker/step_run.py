"""One run of a step's pipeline: `StepRun` runs tasks from the first, one attempt at a time,
applying each task's `eval` rules (continue, retry with backoff, jump, break, fail) and the
`set_ctx` / `set_vars` / `set_iter` they carry, and records each attempt as an event; `Ending`
is how the run ended, `Runner` who ran it. `noetl.worker.pipeline.run_command` drives one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from noetl.engine.commands import Command
from noetl.engine.definition import EvalRule, PlaybookDef, TaskDef
from noetl.engine.events import (
    COMMAND_STARTED,
    STEP_DONE,
    STEP_FAILED,
    TASK_DONE,
    TASK_FAILED,
    Event,
)
from noetl.errors import TemplateError, ToolError
from noetl.observe import tracing
from noetl.store.stamping import utc_now
from noetl.tools.base import Resources, ToolContext
from noetl.worker import output
from noetl.worker.attempt import run_attempt
from noetl.worker.outcome import SUCCESS, error_info, rule_view
from noetl.worker.rules import backoff_delay, describe_rule, match_rule

# Jumps can loop; a command that runs this many tasks is stopped (error kind "runaway").
MAX_TASK_RUNS = 100_000
# Workbook tasks may call workbook tasks; this bounds the nesting (a task calling itself).
MAX_WORKBOOK_DEPTH = 16

EventSink = Callable[[Event], None]
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Runner:
    """Who runs a command: the worker's id and the delivery attempt (1, then 2... on
    redelivery). They go into the run's events, so the log tells where and when it ran."""

    worker_id: str = ""
    attempt: int = 1
    trace: str = ""  # traceparent of the execution's span: the run's spans join its trace


@dataclass(slots=True)
class Ending:
    """How a pipeline ended: `ok` with the step result, or failed with the step error."""

    ok: bool
    result: Any = None
    error: dict[str, Any] | None = None  # {kind, message, retryable, code, status_code, task}


class StepRun:
    """The state of one run of a step's pipeline (or of a workbook task called from one)."""

    def __init__(
        self,
        playbook: PlaybookDef,
        command: Command,
        scope: Mapping[str, Any],
        resources: Resources,
        *,
        on_event: EventSink | None = None,
        sleep: Sleep = asyncio.sleep,
        record: bool = True,
        depth: int = 0,
        runner: Runner = Runner(),
    ) -> None:
        self.playbook = playbook
        self.runner = runner
        self.began = time.perf_counter()
        self.command = command
        self.resources = resources
        self.on_event = on_event
        self.sleep = sleep
        self.record = record  # False for workbook calls: their caller's task is the recorded one
        self.depth = depth
        self.events: list[Event] = []
        self.task_runs = 0  # numbers task runs: idempotency keys and the runaway guard
        self.vars: dict[str, Any] = {}
        self.set_ctx: dict[str, Any] = {}
        self.scope: dict[str, Any] = dict(scope)
        self.scope["ctx"] = scope.get("ctx") or {}
        self.scope["iter"] = scope.get("iter") or {}
        self.scope["vars"] = self.vars
        self.scope["_prev"] = None
        self.scope["_task"] = None
        self.scope["_attempt"] = 1
        self.scope["results"] = {}

    async def run_tasks(self, tasks: tuple[TaskDef, ...]) -> Ending:
        """Run `tasks` from the first, following the eval rules, until the pipeline ends."""
        if not tasks:
            return Ending(True)
        index, attempt = 0, 1
        while True:
            task = tasks[index]
            if self.task_runs >= MAX_TASK_RUNS:
                message = f"step '{self.command.step}' ran {MAX_TASK_RUNS} tasks; a jump loops"
                return self._fail(task, error_info("runaway", message))
            self.task_runs += 1
            outcome = await self._attempt(task, attempt)
            move = await self._next(tasks, index, attempt, outcome)
            if isinstance(move, Ending):
                return move
            index, attempt = move

    async def run_task(self, task: TaskDef, args: Mapping[str, Any]) -> Any:
        """Run `task` as a one-task pipeline with `args` as its `args` scope (workbook tool).

        Returns its result or raises `ToolError` with the error it failed with. Its `set_ctx`
        changes apply to this run too. Its attempts are not recorded as events of their own: the
        calling task's `task.done` / `task.failed` is the recorded fact.
        """
        if self.depth >= MAX_WORKBOOK_DEPTH:
            message = f"workbook task '{task.label}' nested deeper than {MAX_WORKBOOK_DEPTH} calls"
            raise ToolError(message, kind="config")
        child = StepRun(
            self.playbook,
            self.command,
            {**self.scope, "args": args},
            self.resources,
            sleep=self.sleep,
            record=False,
            depth=self.depth + 1,
        )
        child.task_runs = self.task_runs
        ending = await child.run_tasks((task,))
        self.task_runs = child.task_runs
        if child.set_ctx:
            self._merge_ctx(child.set_ctx)
        if ending.ok:
            return ending.result
        error = ending.error or {}
        raise ToolError(
            error.get("message", f"workbook task '{task.label}' failed"),
            kind=error.get("kind", "tool"),
            retryable=bool(error.get("retryable")),
            code=error.get("code"),
            status_code=error.get("status_code"),
        )

    def begin(self) -> None:
        """Emit `command.started`: which worker runs the command, on which delivery attempt."""
        self.began = time.perf_counter()
        runner = self.runner
        payload = {"worker_id": runner.worker_id, "attempt": runner.attempt}
        self._emit(
            COMMAND_STARTED, payload, f"command.started|{self.command.command_id}|{runner.attempt}"
        )

    def apply_step_set_ctx(self, step: str, values: Mapping[str, Any], ending: Ending) -> Ending:
        """Render the step's own `set_ctx` once its pipeline succeeded, the step's result
        readable by the step's name; a template that cannot be rendered fails the step."""
        scope = {**self.scope, step: ending.result}
        try:
            rendered = self.playbook.renderer.render(
                dict(values), scope, where=f"step '{step}' set_ctx"
            )
        except TemplateError as exc:
            return Ending(False, error=step_error(error_info("template", str(exc)), None))
        self._merge_ctx(rendered)
        return ending

    def finish(self, ending: Ending) -> None:
        """Emit the run's one ending event (`step.done` or `step.failed`)."""
        key = f"step.end|{self.command.command_id}"
        if ending.ok:
            kind, field, value = STEP_DONE, "result", ending.result
        else:
            kind, field, value = STEP_FAILED, "error", ending.error
        payload = {field: value, "vars": self.vars, "set_ctx": self.set_ctx}
        payload["worker_id"] = self.runner.worker_id
        payload["attempt"] = self.runner.attempt
        payload["duration_ms"] = elapsed_ms(self.began)
        self._emit(kind, payload, key)

    async def _attempt(self, task: TaskDef, attempt: int) -> dict[str, Any]:
        """Run one attempt and record its `task.done` / `task.failed` event."""
        scope = self.scope
        scope["_task"] = task.label
        scope["_attempt"] = attempt
        command = self.command
        ctx = ToolContext(
            execution_id=command.execution_id,
            step=command.step,
            task=task.label,
            attempt=attempt,
            playbook=self.playbook,
            scope=scope,
            resources=self.resources,
            iteration=command.iteration,
            timeout=task.timeout,
            run_task=self.run_task,
        )
        with output.capture() as printed:
            if tracing.active():
                outcome = await self._traced_attempt(task, ctx)
            else:
                outcome = await run_attempt(task, scope, self.playbook.renderer, ctx)
        if self.record:
            duration = outcome["meta"]["duration_ms"]
            if outcome["status"] == SUCCESS:
                kind, field, value = TASK_DONE, "result", outcome["result"]
            else:
                kind, field, value = TASK_FAILED, "error", outcome["error"]
            payload = {"task": task.label, "kind": task.kind, "attempt": attempt, field: value}
            payload["duration_ms"] = duration
            payload["worker_id"] = self.runner.worker_id
            text = printed.text()
            if text:  # masked with the rest of the payload in _emit
                payload["output"] = text
                if printed.truncated:
                    payload["output_truncated"] = True
            self._emit(kind, payload, f"{kind}|{command.command_id}|{self.task_runs}")
        return outcome

    async def _traced_attempt(self, task: TaskDef, ctx: ToolContext) -> dict[str, Any]:
        """One attempt in its own span (a workbook call's attempts nest in their caller's)."""
        attributes = {
            "noetl.execution_id": ctx.execution_id,
            "noetl.step": ctx.step,
            "noetl.task": task.label,
            "noetl.tool_kind": task.kind,
            "noetl.attempt": ctx.attempt,
            "noetl.worker_id": self.runner.worker_id,
        }
        with tracing.span(f"task {task.label}", None, attributes) as span:
            outcome = await run_attempt(task, self.scope, self.playbook.renderer, ctx)
            error = outcome["error"]
            if error is not None:  # a span is output too: what a task revealed is masked
                error = self.resources.masks.mask(ctx.execution_id, error)
            tracing.end(span, outcome["status"], error)
        return outcome

    async def _next(
        self, tasks: tuple[TaskDef, ...], index: int, attempt: int, outcome: dict[str, Any]
    ) -> Ending | tuple[int, int]:
        """Apply the eval rules to `outcome`: the ending, or the (index, attempt) to run next."""
        task = tasks[index]
        try:
            matched = self._evaluate(task, outcome)
        except TemplateError as exc:
            return self._fail(task, error_info("template", str(exc)))
        if matched is not None:
            action = matched[1].do
        else:  # no rule matched: the defaults
            action = "continue" if outcome["status"] == SUCCESS else "fail"
        if action == "retry":
            assert matched is not None
            return await self._retry(task, index, attempt, outcome, *matched)
        if action == "fail":
            return self._fail(task, outcome["error"] or self._eval_fail(task, matched))
        result = outcome["result"]
        self.scope["_prev"] = result
        self.scope["results"][task.label] = result
        if action == "break" or (action == "continue" and index + 1 == len(tasks)):
            return Ending(True, result)
        if action == "jump":
            assert matched is not None
            return self._jump_target(tasks, task, matched[1])
        return index + 1, 1

    def _evaluate(self, task: TaskDef, outcome: dict[str, Any]) -> tuple[int, EvalRule] | None:
        """Find the matching rule and apply its set_ctx / set_vars / set_iter."""
        if not task.eval:
            return None
        scope = self.scope
        where = f"step '{self.command.step}' task '{task.label}'"
        renderer = self.playbook.renderer
        scope["outcome"] = rule_view(outcome)
        try:
            matched = match_rule(task.eval, scope, renderer, where)
            if matched is not None:
                self._apply_sets(*matched, where)
        finally:
            del scope["outcome"]
        return matched

    def _apply_sets(self, index: int, rule: EvalRule, where: str) -> None:
        """Render the rule's set maps (all against the same scope), then apply them."""
        if not (rule.set_ctx or rule.set_vars or rule.set_iter):
            return
        render = self.playbook.renderer.render
        scope = self.scope
        at = f"{where} eval[{index}] field"
        new_ctx = render(dict(rule.set_ctx), scope, where=f"{at} 'set_ctx'")
        new_vars = render(dict(rule.set_vars), scope, where=f"{at} 'set_vars'")
        new_iter = render(dict(rule.set_iter), scope, where=f"{at} 'set_iter'")
        if new_ctx:
            self._merge_ctx(new_ctx)
        self.vars.update(new_vars)
        if new_iter:
            scope["iter"] = {**scope["iter"], **new_iter}

    def _merge_ctx(self, changes: Mapping[str, Any]) -> None:
        """Record ctx changes for `step.done` and let later tasks of this run see them."""
        self.set_ctx.update(changes)
        self.scope["ctx"] = {**self.scope["ctx"], **changes}

    async def _retry(
        self,
        task: TaskDef,
        index: int,
        attempt: int,
        outcome: dict[str, Any],
        rule_index: int,
        rule: EvalRule,
    ) -> Ending | tuple[int, int]:
        """Wait per the rule's backoff and re-run the task, or fail once attempts are used up."""
        error = outcome["error"]
        if attempt >= rule.attempts:
            if error is not None:
                return self._fail(task, error)
            message = (
                f"step '{self.command.step}' task '{task.label}': "
                f"{describe_rule(rule_index, rule)} still asked to retry after {attempt} attempts"
            )
            return self._fail(task, error_info("retry_exhausted", message))
        retry_after = error.get("retry_after") if error else None
        delay = backoff_delay(rule, attempt, retry_after)
        if delay > 0:
            await self.sleep(delay)
        return index, attempt + 1

    def _jump_target(
        self, tasks: tuple[TaskDef, ...], task: TaskDef, rule: EvalRule
    ) -> Ending | tuple[int, int]:
        for position, candidate in enumerate(tasks):
            if candidate.label == rule.to:
                return position, 1
        message = (
            f"step '{self.command.step}' task '{task.label}' jumps to unknown task {rule.to!r}"
        )
        return self._fail(task, error_info("config", message))

    def _eval_fail(self, task: TaskDef, matched: tuple[int, EvalRule] | None) -> dict[str, Any]:
        rule = "an eval rule" if matched is None else describe_rule(*matched)
        message = f"step '{self.command.step}' task '{task.label}' failed by {rule}"
        return error_info("eval_fail", message)

    def _fail(self, task: TaskDef, error: Mapping[str, Any]) -> Ending:
        return Ending(False, error=step_error(error, task.label))

    def _emit(self, kind: str, payload: dict[str, Any], key: str) -> None:
        if not self.record:
            return
        command = self.command
        event = Event(
            kind,
            command.execution_id,
            step=command.step,
            iteration=command.iteration,
            command_id=command.command_id,
            payload=self.resources.masks.mask(command.execution_id, payload),
            origin="worker",
            idempotency_key=key,
            created_at=utc_now(),  # when it happened, not when the batch is written
        )
        self.events.append(event)
        if self.on_event is not None:
            self.on_event(event)


def elapsed_ms(since: float) -> float:
    """Milliseconds since `since` (a `time.perf_counter()` reading)."""
    return round((time.perf_counter() - since) * 1000.0, 3)


def step_error(error: Mapping[str, Any], task: str | None) -> dict[str, Any]:
    """The step error: the envelope error fields plus the task that ended the step."""
    step_error = {
        "kind": error.get("kind"),
        "message": error.get("message"),
        "retryable": bool(error.get("retryable")),
        "code": error.get("code"),
        "status_code": error.get("status_code"),
        "task": task,
    }
    if error.get("traceback"):
        step_error["traceback"] = error["traceback"]
    return step_error
