"""`noetl.tools.threads`: blocking calls off the loop, in the caller's context, at most LIMIT at
once, outcomes (results, errors) back to the caller, a cancelled caller leaving the call to end."""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time

import pytest

from noetl.tools import threads
from noetl.tools.threads import run_in_thread

WHO: contextvars.ContextVar[str] = contextvars.ContextVar("who", default="nobody")


def test_result_comes_back_from_another_thread():
    async def main() -> tuple[int, int]:
        return await run_in_thread(threading.get_ident), threading.get_ident()

    there, here = asyncio.run(main())
    assert there != here


def test_the_call_sees_the_callers_context():
    async def one(name: str) -> str:
        WHO.set(name)
        return await run_in_thread(WHO.get)

    async def main() -> list[str]:
        return await asyncio.gather(one("a"), one("b"), one("c"))

    assert asyncio.run(main()) == ["a", "b", "c"]


def test_an_exception_is_raised_in_the_caller():
    def fail() -> None:
        raise ValueError("broken on purpose")

    with pytest.raises(ValueError, match="broken on purpose"):
        asyncio.run(run_in_thread(fail))


def test_calls_run_side_by_side_up_to_the_limit_then_wait_their_turn():
    """LIMIT calls that wait for each other all finish (they run at once); one more waits for
    a free thread and still runs."""
    barrier = threading.Barrier(threads.LIMIT, timeout=10)
    order: list[int] = []

    def meet(index: int) -> int:
        barrier.wait()
        order.append(index)
        return index

    async def main() -> list[int]:
        calls = [run_in_thread(lambda i=i: meet(i)) for i in range(threads.LIMIT)]
        late = run_in_thread(lambda: "late")
        return await asyncio.gather(*calls, late)

    got = asyncio.run(main())
    assert got == [*range(threads.LIMIT), "late"]
    assert sorted(order) == list(range(threads.LIMIT))


def test_a_cancelled_caller_stops_waiting_and_the_call_runs_to_its_end():
    ended = threading.Event()

    def slow() -> str:
        time.sleep(0.2)
        ended.set()
        return "ignored"

    async def main() -> str:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.01):
                await run_in_thread(slow)
        assert not ended.is_set()  # the caller did not wait for it
        return await run_in_thread(lambda: "next")

    assert asyncio.run(main()) == "next"
    assert ended.wait(5)
