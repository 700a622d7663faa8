"""`python`: run a snippet of Python code.

The code either assigns `result` or defines `main(**args)` (called with the task args; its
return value is the result). The task args are also bound as variables, so `code: "result = a + b"`
works with `args: {a: 1, b: 2}`. Each distinct code text is compiled once. The code runs in a
thread (`noetl.tools.threads`) so a slow or blocking snippet never stalls the worker's event loop,
except code that only moves data (see `_moves_data_only`): it cannot run long, and runs on the
loop at once (the hop to a thread and back cost ~0.25 ms of CPU on a 2-vCPU VM, more than the
rest of such a task). A callable `main` it leaves behind is still called in a thread.
Any exception becomes `ToolError(kind="python")` with the exception and the line of the user's
code it came from, e.g. "ZeroDivisionError: division by zero (line 3)".

This is not a sandbox: playbook authors are trusted to run code on their workers.
"""

from __future__ import annotations

import builtins
import copy
import functools
import opcode
import sys
import traceback
from collections.abc import Callable, Mapping
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
        """Compile (cached) and run the code (in a thread unless it only moves data); return
        `result` or `main(**args)`."""
        code = config.get("code")
        if not isinstance(code, str):
            raise ToolError(
                f"step '{ctx.step}' task '{ctx.task}': python needs `code` as a string",
                kind="config",
            )
        try:
            compiled, inline = _compile(code)
        except SyntaxError as exc:
            raise ToolError(f"SyntaxError: {exc.msg} (line {exc.lineno})", kind="python") from None
        # A private copy: rendered args may be the execution's own objects (workload, results),
        # which user code must not be able to change behind the engine's back.
        args = copy.deepcopy(dict(config.get("args") or {}))
        if not inline:
            return await run_in_thread(functools.partial(_execute, compiled, args, code))
        namespace = _statements(compiled, args, code)
        main = namespace.get("main")
        if not callable(main):
            return namespace.get("result")
        return await run_in_thread(functools.partial(_as_tool_error, code, main, args))


@functools.lru_cache(maxsize=2048)
def _compile(code: str) -> tuple[CodeType, bool]:
    """The code object, and whether it only moves data (runs on the loop)."""
    compiled = compile(code, _FILENAME, "exec")
    return compiled, _moves_data_only(compiled)


# What code that only moves data consists of: names, constants, subscripts, lists and maps
# built from them, truth and identity tests with forward jumps (the names of CPython 3.11 to
# 3.13; anything unknown goes to a thread). No call, loop, import, attribute, operator,
# comparison, formatting, slicing, tuple or unpacking: each step is O(1) or a lookup in its
# inputs, and no statement can make a value grow beyond its inputs (as `a = a + a` or
# `a[:0] = a` would), so such code does no more work than copying its args already did.
_DATA_ONLY = frozenset(
    {
        "RESUME", "NOP", "CACHE", "EXTENDED_ARG", "POP_TOP", "COPY", "SWAP",
        "LOAD_CONST", "LOAD_SMALL_INT", "LOAD_NAME", "STORE_NAME", "DELETE_NAME",
        "BINARY_SUBSCR", "STORE_SUBSCR", "DELETE_SUBSCR",
        "BUILD_LIST", "BUILD_MAP", "BUILD_CONST_KEY_MAP",
        "UNARY_NOT", "IS_OP", "TO_BOOL",
        "JUMP_FORWARD", "JUMP_IF_FALSE_OR_POP", "JUMP_IF_TRUE_OR_POP",
        "POP_JUMP_FORWARD_IF_FALSE", "POP_JUMP_FORWARD_IF_TRUE",
        "POP_JUMP_FORWARD_IF_NONE", "POP_JUMP_FORWARD_IF_NOT_NONE",
        "RETURN_VALUE", "RETURN_CONST",
    }
)  # fmt: skip
if sys.version_info >= (3, 12):  # conditional jumps go forward only from 3.12 on
    _DATA_ONLY |= {"POP_JUMP_IF_FALSE", "POP_JUMP_IF_TRUE", "POP_JUMP_IF_NONE"}
    _DATA_ONLY |= {"POP_JUMP_IF_NOT_NONE"}


def _moves_data_only(compiled: CodeType) -> bool:
    """Whether the code is made only of the instructions in `_DATA_ONLY` (it runs in
    microseconds whatever its args: no need to leave the event loop for it)."""
    if any(isinstance(constant, slice) for constant in compiled.co_consts):
        return False  # a folded slice (newer CPythons): `a[:0] = a` would double `a`
    # Two bytes per instruction (opcode, argument); inline caches are CACHE instructions.
    return all(opcode.opname[op] in _DATA_ONLY for op in compiled.co_code[::2])


def _execute(compiled: CodeType, args: dict[str, Any], code: str) -> Any:
    """Run compiled code, then its `main(**args)` if it defines one; the result."""
    namespace = _statements(compiled, args, code)
    main = namespace.get("main")
    if callable(main):
        return _as_tool_error(code, main, args)
    return namespace.get("result")


def _statements(compiled: CodeType, args: dict[str, Any], code: str) -> dict[str, Any]:
    """Run compiled code in a fresh namespace (one dict: functions see the args as globals)."""
    namespace: dict[str, Any] = {"__builtins__": builtins, "__name__": "__noetl_task__", **args}
    _as_tool_error(code, functools.partial(exec, compiled, namespace), {})
    return namespace


def _as_tool_error(code: str, function: Callable[..., Any], args: dict[str, Any]) -> Any:
    """`function(**args)`; what the user's code raised becomes a `ToolError` naming its line."""
    try:
        return function(**args)
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
