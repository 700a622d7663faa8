"""One logging setup for every NoETL process (`run`, `server start`, `worker start`, `dev up`).

`configure(level, fmt)` sends log records to stderr as text or as one JSON object per line.
Each record carries the execution id, step, command id and worker id of the command being run
when it was logged (`context` sets them for a block; the worker pipeline does it per command),
so the lines of one execution can be picked out of a busy worker's log. Every line starts with
its UTC time (ISO-8601, milliseconds) in both formats.

A warning or error repeated word for word (an outage: PostgreSQL down makes the pool log "error
connecting" ten times a second, every request fails alike) is written once, then at most once
per `REPEAT_WINDOW` seconds with the count of those held back in between, instead of a flood.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from noetl.errors import ConfigError

FORMATS = ("text", "json")
LEVELS = ("debug", "info", "warning", "error", "critical")
FIELDS = ("execution_id", "step", "command_id", "worker_id")
_context: ContextVar[dict[str, Any] | None] = ContextVar("noetl_log_context", default=None)
_HANDLER_NAME = "noetl"
REPEAT_WINDOW = 10.0  # seconds: an identical warning or error is written at most once per window
_REPEATS_KEPT = 1000  # distinct repeated messages remembered (beyond: all forgotten at once)


class context:  # lower case: read as a call, `with logsetup.context(step=...):`
    """Add `fields` (execution_id, step, command_id, worker_id) to records logged in the block.
    A class, not a generator context manager: it is entered on every command."""

    __slots__ = ("_fields", "_token")

    def __init__(self, **fields: Any) -> None:
        self._fields = fields

    def __enter__(self) -> None:
        self._token = _context.set({**(_context.get() or {}), **self._fields})

    def __exit__(self, *exc: object) -> None:
        _context.reset(self._token)


class _ContextFilter(logging.Filter):
    """Puts the context fields on every record (None where unknown)."""

    def filter(self, record: logging.LogRecord) -> bool:
        known = _context.get() or {}
        for name in FIELDS:
            setattr(record, name, known.get(name))
        return True


class RepeatFilter(logging.Filter):
    """Holds back a warning or error identical (logger, level, message, exception type) to one
    written less than `window` seconds ago; the next one let through carries the count held
    back (`record.repeated`), which both formats show."""

    def __init__(self, window: float = REPEAT_WINDOW, clock: Callable[[], float] = time.monotonic):
        super().__init__()
        self._window = window
        self._clock = clock
        self._lock = threading.Lock()
        self._written: dict[tuple[Any, ...], list[Any]] = {}  # key -> [written at, held back]

    def filter(self, record: logging.LogRecord) -> bool:
        """False for a repeat within the window; else True, with `repeated` set."""
        if record.levelno < logging.WARNING:
            return True
        kind = record.exc_info[0] if record.exc_info else None
        key = (record.name, record.levelno, record.getMessage(), kind)
        now = self._clock()
        with self._lock:
            last = self._written.get(key)
            if last is not None and now - last[0] < self._window:
                last[1] += 1
                return False
            if len(self._written) >= _REPEATS_KEPT:
                self._written.clear()
            self._written[key] = [now, 0]
        if last is not None and last[1]:
            record.repeated = (last[1], now - last[0])
        return True


def _repeated(record: logging.LogRecord) -> str:
    """ " (N more like it held back in the last S s)" for a record let through after repeats."""
    repeated = getattr(record, "repeated", None)
    if repeated is None:
        return ""
    count, seconds = repeated
    return f" ({count} more like it held back in the last {seconds:.0f} s)"


def _utc(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, context fields, exception."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        line: dict[str, Any] = {
            "time": _utc(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage() + _repeated(record),
        }
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class TextFormatter(logging.Formatter):
    """`time level logger: message [execution_id=... step=...]`, the time in UTC ISO-8601."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        """The record's time as UTC ISO-8601 with milliseconds (as in the JSON format)."""
        return _utc(record)

    def formatMessage(self, record: logging.LogRecord) -> str:
        """The line before any traceback: the held-back count, then the known context fields."""
        text = super().formatMessage(record) + _repeated(record)
        known = [f"{n}={getattr(record, n)}" for n in FIELDS if getattr(record, n, None)]
        return f"{text} [{' '.join(known)}]" if known else text


def configure(level: str = "warning", fmt: str = "text") -> None:
    """Log to stderr at `level` in `fmt` (replacing an earlier `configure`)."""
    if fmt not in FORMATS:
        raise ConfigError(f"--log-format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if level.lower() not in LEVELS:
        raise ConfigError(f"--log-level must be one of {', '.join(LEVELS)}, not {level!r}")
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.addFilter(_ContextFilter())
    handler.addFilter(RepeatFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel(level.upper())
