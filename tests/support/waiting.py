"""Polling a subprocess's visible effects (a file, a CLI answer) until they show."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(
    check: Callable[[], T], what: str = "the condition", timeout: float = 30.0, every: float = 0.05
) -> T:
    """Call `check` every `every` seconds until it returns something true, and return that;
    the test fails naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(every)
