"""The tools' blocking calls (`python`, `duckdb`) run off the event loop, on threads kept
waiting for the next call.

`asyncio.to_thread` goes through the loop's `ThreadPoolExecutor` and two futures chained across
threads; for a `python` task whose code returns at once that hop was most of the task's cost
(~0.12 ms of CPU against ~0.06 ms here). Here each thread waits on its own queue, a call is one
`put` and one `call_soon_threadsafe` back, and the caller awaits a plain asyncio future.

What stays as with `to_thread`: the call runs in a copy of the caller's context (what a task
prints is captured per attempt through a context variable), at most `LIMIT` calls run at once
(the rest wait their turn, in order), and a caller that is cancelled or times out stops waiting
while the call runs on to its end (Python cannot stop a thread). The threads are daemons: a
process that exits does not wait for code its tasks abandoned.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import os
import queue
import threading
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
LIMIT = min(32, (os.cpu_count() or 1) + 4)  # as many threads as the default executor's

Loop = asyncio.AbstractEventLoop
_Call = tuple[Loop, asyncio.Future[Any], contextvars.Context, Callable[[], Any]]


async def run_in_thread(function: Callable[[], T]) -> T:
    """Run `function()` on one of the waiting threads; its result or its exception."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()
    _THREADS.submit((loop, future, contextvars.copy_context(), function))
    return await future


class _Threads:
    """The waiting threads of the process, and the calls queued while all are busy."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._lock = threading.Lock()
        self._idle: list[queue.SimpleQueue[_Call]] = []
        self._started = 0
        self._backlog: deque[_Call] = deque()

    def submit(self, call: _Call) -> None:
        with self._lock:
            if self._idle:
                self._idle.pop().put(call)
                return
            if self._started >= self._limit:
                self._backlog.append(call)
                return
            self._started += 1
            name = f"noetl-thread-{self._started}"
        inbox: queue.SimpleQueue[_Call] = queue.SimpleQueue()
        inbox.put(call)
        threading.Thread(target=self._serve, args=(inbox,), name=name, daemon=True).start()

    def _serve(self, inbox: queue.SimpleQueue[_Call]) -> None:
        while True:
            _answer(*inbox.get())
            with self._lock:  # the next queued call, or wait for one
                if not self._backlog:
                    self._idle.append(inbox)
                    continue
                call = self._backlog.popleft()
            inbox.put(call)


def _answer(
    loop: Loop,
    future: asyncio.Future[Any],
    context: contextvars.Context,
    function: Callable[[], Any],
) -> None:
    """Run one call and hand its outcome to the caller's loop (a closed loop gets nothing)."""
    try:
        result = context.run(function)
    except BaseException as exc:  # the caller's to raise, whatever it is
        outcome: tuple[Callable[..., None], Any] = (_set_exception, exc)
    else:
        outcome = (_set_result, result)
    # A loop that closed while the call ran has nobody waiting for it.
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(outcome[0], future, outcome[1])


def _set_result(future: asyncio.Future[Any], result: Any) -> None:
    if not future.done():  # a cancelled caller stopped waiting
        future.set_result(result)


def _set_exception(future: asyncio.Future[Any], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)


_THREADS = _Threads(LIMIT)
