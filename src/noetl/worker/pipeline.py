"""The worker pipeline: run one command (one step run) task by task, applying `eval` rules.

`run_command` is the entry point. It returns the events of the run, in order: `command.started`
(which worker, which delivery attempt), one `task.done` / `task.failed` per task attempt, then
exactly one `step.done` / `step.failed` (with the worker, the attempt and the run's duration).
Each event carries the time it happened. The state of a run
(its template scope, vars, the ctx changes it made, its events) lives in a `StepRun`
(`noetl.worker.step_run`); the rules themselves are in `noetl.worker.rules`, one attempt in
`noetl.worker.attempt`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from noetl.engine.commands import Command
from noetl.engine.definition import PlaybookDef, TaskDef
from noetl.engine.events import (
    STEP_DONE,
    STEP_FAILED,
    Event,
)
from noetl.observe import logsetup, tracing
from noetl.tools.base import Resources
from noetl.tools.masking import masking_execution
from noetl.worker.outcome import error_info
from noetl.worker.step_run import Ending, EventSink, Runner, Sleep, StepRun, step_error

_STATUS = {STEP_DONE: "done", STEP_FAILED: "failed"}


async def run_command(
    playbook: PlaybookDef,
    command: Command,
    scope: Mapping[str, Any],
    resources: Resources,
    *,
    on_event: EventSink | None = None,
    sleep: Sleep = asyncio.sleep,
    runner: Runner = Runner(),
) -> list[Event]:
    """Run `command.step`'s pipeline once and return the events it produced, in order.

    `scope` is the template scope the runtime assembled (workload, ctx, args, iter, execution_id,
    finished steps' results); it is not mutated. `on_event` sees each event as it is produced;
    `sleep` waits between retries (tests inject one that records the delays). Every event is
    masked (`noetl.tools.masking`): secrets the tasks revealed appear as `***`. `runner` names
    the worker and the delivery attempt in the events.
    """
    attributes = _step_attributes(playbook, command, runner) if tracing.active() else {}
    with (
        masking_execution(command.execution_id),
        logsetup.context(
            execution_id=command.execution_id,
            step=command.step,
            command_id=command.command_id,
            worker_id=runner.worker_id,
        ),
        tracing.span(f"step {command.step}", runner.trace, attributes) as span,
    ):
        events = await _run_command(playbook, command, scope, resources, on_event, sleep, runner)
        if span is not None:
            ending = events[-1]
            tracing.end(span, _STATUS[ending.type], ending.payload.get("error"))
        return events


def _step_attributes(playbook: PlaybookDef, command: Command, runner: Runner) -> dict[str, Any]:
    """The attributes of a step run's span."""
    attributes = {
        "noetl.execution_id": command.execution_id,
        "noetl.playbook": playbook.name,
        "noetl.step": command.step,
        "noetl.worker_id": runner.worker_id,
        "noetl.attempt": runner.attempt,
    }
    if command.iteration is not None:
        attributes["noetl.iteration"] = command.iteration
    return attributes


async def _run_command(
    playbook: PlaybookDef,
    command: Command,
    scope: Mapping[str, Any],
    resources: Resources,
    on_event: EventSink | None,
    sleep: Sleep,
    runner: Runner,
) -> list[Event]:
    run = StepRun(
        playbook, command, scope, resources, on_event=on_event, sleep=sleep, runner=runner
    )
    run.begin()
    try:
        tasks = playbook.step(command.step).tasks
    except KeyError:
        message = f"command {command.command_id} names unknown step '{command.step}'"
        run.finish(Ending(False, error=step_error(error_info("config", message), None)))
        return run.events
    if command.timeout is None:
        ending = await run.run_tasks(tasks)
    else:
        ending = await _run_bounded(run, tasks, command.timeout)
    step = playbook.step(command.step)
    if ending.ok and step.set_ctx and command.iteration is None:
        ending = run.apply_step_set_ctx(step.name, step.set_ctx, ending)
    run.finish(ending)
    return run.events


async def _run_bounded(run: StepRun, tasks: tuple[TaskDef, ...], timeout: float) -> Ending:
    """Run the pipeline within the step timeout; expiry fails the step with kind `timeout`."""
    bound = asyncio.timeout(timeout)
    try:
        async with bound:
            return await run.run_tasks(tasks)
    except TimeoutError:
        if not bound.expired():
            raise
    message = f"step '{run.command.step}' timed out after {timeout:g}s"
    error = error_info("timeout", message, retryable=True)
    return Ending(False, error=step_error(error, run.scope.get("_task")))
