"""The one logging setup: timestamps in both formats, repeated warnings held back."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator

import pytest

from noetl.observe import logsetup

UTC_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00 ")


@pytest.fixture
def configured(capsys: pytest.CaptureFixture[str]) -> Iterator[pytest.CaptureFixture[str]]:
    root = logging.getLogger()
    level = root.level
    yield capsys
    for handler in [h for h in root.handlers if h.get_name() == "noetl"]:
        root.removeHandler(handler)
    root.setLevel(level)


def outage(times: int) -> None:
    """What psycopg's pool logs while PostgreSQL is down, and a failing request's traceback."""
    pool = logging.getLogger("psycopg.pool")
    for _ in range(times):
        pool.warning("error connecting in %r: %s", "noetl-event-store", "connection refused")
        try:
            raise ConnectionError("server closed the connection unexpectedly")
        except ConnectionError:
            logging.getLogger("noetl.server").exception("POST /api/v2/events failed")


def test_text_lines_start_with_their_utc_time_and_end_with_the_context(configured):
    logsetup.configure("info", "text")
    with logsetup.context(execution_id="e1", step="start"):
        logging.getLogger("noetl.test").info("hello %s", "world")
    [line] = configured.readouterr().err.splitlines()
    assert UTC_TIME.match(line), line
    assert line.endswith("INFO noetl.test: hello world [execution_id=e1 step=start]")


def test_an_outage_logs_each_error_once_not_a_flood_of_tracebacks(configured):
    logsetup.configure("warning", "text")
    outage(20)
    logged = configured.readouterr().err
    assert logged.count("error connecting in 'noetl-event-store'") == 1
    assert logged.count("POST /api/v2/events failed") == 1
    assert logged.count("Traceback (most recent call last)") == 1
    logging.getLogger("psycopg.pool").warning("a different warning")
    assert "a different warning" in configured.readouterr().err


def test_json_lines_have_their_time_and_the_count_held_back():
    clock = [0.0]
    repeats = logsetup.RepeatFilter(window=10.0, clock=lambda: clock[0])
    handler = logging.StreamHandler()
    formatter = logsetup.JsonFormatter()
    written = []

    def emit(record: logging.LogRecord) -> None:
        written.append(json.loads(formatter.format(record)))

    handler.addFilter(repeats)
    handler.emit = emit  # type: ignore[method-assign]
    pool = logging.getLogger("psycopg.pool.test")
    pool.propagate = False
    pool.setLevel(logging.INFO)
    pool.addHandler(handler)
    try:
        for second in (0, 1, 2, 3, 12, 13, 30):
            clock[0] = float(second)
            pool.warning("error connecting in %r: %s", "noetl-event-store", "refused")
        pool.info("reconnected")  # below warning: never held back
        pool.info("reconnected")
    finally:
        pool.removeHandler(handler)
    messages = [line["message"] for line in written]
    assert messages == [
        "error connecting in 'noetl-event-store': refused",
        "error connecting in 'noetl-event-store': refused (3 more like it held back in the "
        "last 12 s)",
        "error connecting in 'noetl-event-store': refused (1 more like it held back in the "
        "last 18 s)",
        "reconnected",
        "reconnected",
    ]
    assert all(re.match(r"^\d{4}-\d\d-\d\dT.*\+00:00$", line["time"]) for line in written)
