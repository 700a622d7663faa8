"""The readiness check's own rules: each dependency asked within its timeout, a silent one is
down with that said in words (the real stores and buses are in
tests/integration/test_server_readiness.py)."""

from __future__ import annotations

import asyncio

from noetl.bus.inprocess import InProcessBus
from noetl.runtime.readiness import DependencyState, check_readiness
from noetl.store.memory import MemoryEventStore


class SilentStore(MemoryEventStore):
    """A store whose round trip never comes back (a database that accepts and never answers)."""

    async def ping(self) -> None:
        await asyncio.Event().wait()


def test_in_memory_store_and_in_process_bus_are_always_ready():
    async def check() -> list[DependencyState]:
        bus = InProcessBus()
        try:
            return await check_readiness(MemoryEventStore(), bus)
        finally:
            await bus.close()

    assert asyncio.run(check()) == [
        DependencyState("event_store", True),
        DependencyState("bus", True),
    ]


def test_a_dependency_that_does_not_answer_in_time_is_down_saying_so():
    async def check() -> list[DependencyState]:
        bus = InProcessBus()
        try:
            return await check_readiness(SilentStore(), bus, timeout=0.05)
        finally:
            await bus.close()

    assert asyncio.run(check()) == [
        DependencyState("event_store", False, "no answer within 0.05 s"),
        DependencyState("bus", True),
    ]
