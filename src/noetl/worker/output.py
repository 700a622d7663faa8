"""What a task prints, captured per attempt: stdout, stderr and `logging` records.

`install()` puts a tee in front of `sys.stdout` / `sys.stderr` and a handler on the root logger,
once per process. While an attempt runs inside `capture()`, what its code writes (in the worker's
event loop or in the thread a `python` task runs in: `noetl.tools.threads` carries the context)
goes to that attempt's `TaskOutput` as well as to the real stream, so `noetl run` still prints
it live and a worker's log still has it. Other attempts and the worker's own code are not
captured. At most `MAX_OUTPUT` characters are kept per attempt: the tail (the end of a long
output is where the error usually is), with `truncated` set.
"""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar
from typing import Any, TextIO

MAX_OUTPUT = 64 * 1024  # characters kept per task attempt (the tail)
_current: ContextVar[TaskOutput | None] = ContextVar("noetl_task_output", default=None)
_installed = False


class TaskOutput:
    """The bounded tail of one attempt's output."""

    __slots__ = ("_parts", "_size", "truncated")

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._size = 0
        self.truncated = False

    def write(self, text: str) -> None:
        """Append `text`, dropping the oldest characters past `MAX_OUTPUT`."""
        self._parts.append(text)
        self._size += len(text)
        if self._size > 2 * MAX_OUTPUT:  # trim now and then, not on every write
            self._trim()

    def text(self) -> str:
        """Everything kept, oldest first."""
        self._trim()
        return "".join(self._parts)

    def _trim(self) -> None:
        if self._size <= MAX_OUTPUT:
            return
        joined = "".join(self._parts)
        self._parts = [joined[-MAX_OUTPUT:]]
        self._size = MAX_OUTPUT
        self.truncated = True


class _Tee:
    """A text stream that writes to the real one and to the running attempt's capture."""

    def __init__(self, real: TextIO) -> None:
        self._real = real

    def write(self, text: str) -> int:
        captured = _current.get()
        if captured is not None:
            captured.write(text)
        return self._real.write(text)

    def __getattr__(self, name: str) -> Any:  # flush, fileno, isatty, encoding...
        return getattr(self._real, name)


class _CaptureHandler(logging.Handler):
    """Log records emitted while an attempt runs, formatted into its capture."""

    def emit(self, record: logging.LogRecord) -> None:
        captured = _current.get()
        if captured is not None:
            captured.write(f"{record.levelname} {record.name}: {record.getMessage()}\n")


def install() -> None:
    """Tee stdout and stderr and watch `logging` (idempotent; each worker pool calls it, and
    a stream someone replaced since, a test harness's say, is teed again)."""
    global _installed
    if not isinstance(sys.stdout, _Tee):
        sys.stdout = _Tee(sys.stdout)
    if not isinstance(sys.stderr, _Tee):
        sys.stderr = _Tee(sys.stderr)
    if not _installed:
        _installed = True
        logging.getLogger().addHandler(_CaptureHandler())


class capture:  # lower case: read as a call, `with output.capture() as printed:`
    """Capture the output of the block (one task attempt). A class, not a generator context
    manager: it is entered on every task attempt."""

    __slots__ = ("_token",)

    def __enter__(self) -> TaskOutput:
        output = TaskOutput()
        self._token = _current.set(output)
        return output

    def __exit__(self, *exc: object) -> None:
        _current.reset(self._token)
