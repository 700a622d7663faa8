"""The event loop of the long-running processes, `noetl server start` and `noetl worker start`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any


def event_loop_runner() -> Callable[[Coroutine[Any, Any, None]], None]:
    """`uvloop.run` when uvloop is installed (the `distributed` extra), else `asyncio.run`.

    uvloop's loop and transports are C: measured in `benchmarks/distributed.py`, it takes about
    a sixth off the server's CPU time per step (request handling is mostly loop and socket
    work), and the workers ran on it already.
    """
    try:
        import uvloop
    except ImportError:
        return asyncio.run
    return uvloop.run
