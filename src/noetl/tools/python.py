"""`python`: run a snippet of Python code.

The code either assigns `result` or defines `main(**args)` (called with the task args; its
return value is the result). The task args are also bound as variables, so `code: "result = a + b"`
works with `args: {a: 1, b: 2}`. Each distinct code text is compiled once. The code runs in a
thread (`noetl.tools.threads`) so a slow or blocking snippet never stalls the worker's event loop.
Any exception becomes `ToolError(kind="python")` with the exception and the line of the user's
code it came from, e.g. "ZeroDivisionError: division by zero (line 3)".

This is not a sandbox: playbook authors are trusted to run code on their workers.
"""

from __future__ import annotations

import builtins
import copy
import functools
import traceback
from collections.abc import Mapping
from types import CodeType, TracebackType
from typing import Any, ClassVar

from noetl.errors import ToolError
from noetl.tools.base import ToolContext
from noetl.tools.threads import run_in_thread

# The filename compiled snippets carry, so tracebacks can tell the user's frames from ours.
_FILENAME = "<python task>"


class PythonTool:
    """Runs `config["code"]` with `config["args"]` bound as variables."""

    kind: ClassVar[str] = "python"

    async def run(self, config: Mapping[str, Any], ctx: ToolContext) -> Any:
        """Compile (cached) and run the code in a thread; return `result` or `main(**args)`."""
        code = config.get("code")
        if not isinstance(code, str):
            raise ToolError(
                f"step '{ctx.step}' task '{ctx.task}': python needs `code` as a string",
                kind="config",
            )
        try:
            compiled = _compile(code)
        except SyntaxError as exc:
            raise ToolError(f"SyntaxError: {exc.msg} (line {exc.lineno})", kind="python") from None
        # A private copy: rendered args may be the execution's own objects (workload, results),
        # which user code must not be able to change behind the engine's back.
        args = copy.deepcopy(dict(config.get("args") or {}))
        return await run_in_thread(functools.partial(_execute, compiled, args, code))


@functools.lru_cache(maxsize=2048)
def _compile(code: str) -> CodeType:
    return compile(code, _FILENAME, "exec")


def _execute(compiled: CodeType, args: dict[str, Any], code: str) -> Any:
    """Run compiled code in a fresh namespace (one dict: functions see the args as globals)."""
    namespace: dict[str, Any] = {"__builtins__": builtins, "__name__": "__noetl_task__", **args}
    try:
        exec(compiled, namespace)
        main = namespace.get("main")
        if callable(main):
            return main(**args)
        return namespace.get("result")
    except ToolError:
        raise
    except (Exception, SystemExit) as exc:
        raise ToolError(
            _describe(exc), kind="python", traceback=_user_traceback(exc, code)
        ) from None


def _describe(exc: BaseException) -> str:
    """`Type: message (line N)`, N being the deepest line of the user's code in the traceback."""
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    line = _user_line(exc.__traceback__)
    return text if line is None else f"{text} (line {line})"


def _user_traceback(exc: BaseException, code: str) -> str:
    """The traceback through the user's code only (our frames would only confuse)."""
    lines = code.splitlines()
    text = ["Traceback (most recent call last):"]
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename != _FILENAME or frame.lineno is None:
            continue
        text.append(f"  line {frame.lineno}, in {frame.name}")
        if 0 < frame.lineno <= len(lines):
            text.append(f"    {lines[frame.lineno - 1].strip()}")
    text.extend(line.rstrip("\n") for line in traceback.format_exception_only(exc))
    return "\n".join(text)


def _user_line(tb: TracebackType | None) -> int | None:
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == _FILENAME:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line
