"""One logging setup for every NoETL process (`run`, `server start`, `worker start`, `dev up`).

`configure(level, fmt)` sends log records to stderr as text or as one JSON object per line.
Each record carries the execution id, step, command id and worker id of the command being run
when it was logged (`context` sets them for a block; the worker pipeline does it per command),
so the lines of one execution can be picked out of a busy worker's log.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from noetl.errors import ConfigError

FORMATS = ("text", "json")
LEVELS = ("debug", "info", "warning", "error", "critical")
FIELDS = ("execution_id", "step", "command_id", "worker_id")
_context: ContextVar[dict[str, Any] | None] = ContextVar("noetl_log_context", default=None)
_HANDLER_NAME = "noetl"


@contextlib.contextmanager
def context(**fields: Any) -> Iterator[None]:
    """Add `fields` (execution_id, step, command_id, worker_id) to records logged in the block."""
    token = _context.set({**(_context.get() or {}), **fields})
    try:
        yield
    finally:
        _context.reset(token)


class _ContextFilter(logging.Filter):
    """Puts the context fields on every record (None where unknown)."""

    def filter(self, record: logging.LogRecord) -> bool:
        known = _context.get() or {}
        for name in FIELDS:
            setattr(record, name, known.get(name))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, context fields, exception."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class TextFormatter(logging.Formatter):
    """`time level logger: message [execution_id=... step=...]`."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        """The record as text, its known context fields at the end."""
        text = super().format(record)
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
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel(level.upper())
