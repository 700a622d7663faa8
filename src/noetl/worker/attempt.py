"""One task attempt: render the task's config, run its tool (bounded by the task timeout), and
wrap whatever happened in the outcome envelope."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

from noetl.engine.definition import Renderer, TaskDef
from noetl.tools.base import ToolContext
from noetl.tools.registry import get_tool
from noetl.worker.outcome import error_from_exception, failure, success


def render_config(
    task: TaskDef, scope: Mapping[str, Any], renderer: Renderer, step: str
) -> dict[str, Any]:
    """The tool's config: the task's kind fields rendered, plus the rendered task args as `args`.

    Fields are rendered one by one so a failure names the exact field
    ("step 'a' task 'b' field 'args.lat'"). Task args render against the scope where `args`
    still means the step's arc args; the tool sees the task's own args under `config["args"]`.
    """
    where = f"step '{step}' task '{task.label}' field"
    args = {
        name: renderer.render(value, scope, where=f"{where} 'args.{name}'")
        for name, value in task.args.items()
    }
    config = {
        name: renderer.render(value, scope, where=f"{where} '{name}'")
        for name, value in task.config.items()
    }
    config["args"] = args
    return config


async def run_attempt(
    task: TaskDef, scope: Mapping[str, Any], renderer: Renderer, ctx: ToolContext
) -> dict[str, Any]:
    """Run one attempt of `task`; never raises (except cancellation): returns the outcome envelope.

    A template that cannot render is an error outcome of kind `template`; exceeding the task
    timeout is an error outcome of kind `timeout` (retryable).
    """
    started = time.perf_counter()
    try:
        config = render_config(task, scope, renderer, ctx.step)
        tool = get_tool(task.kind)
        if task.timeout is None:
            result = await tool.run(config, ctx)
        else:
            result = await _run_bounded(tool.run(config, ctx), task, ctx.step)
    except Exception as exc:  # TemplateError, ToolError, timeouts and tool bugs alike
        return failure(error_from_exception(exc), ctx.attempt, _elapsed_ms(started))
    return success(result, ctx.attempt, _elapsed_ms(started))


async def _run_bounded(run: Any, task: TaskDef, step: str) -> Any:
    """Await `run` for at most `task.timeout` seconds."""
    try:
        async with asyncio.timeout(task.timeout):
            return await run
    except TimeoutError:
        raise TimeoutError(
            f"step '{step}' task '{task.label}' timed out after {task.timeout:g}s"
        ) from None


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000.0, 3)
