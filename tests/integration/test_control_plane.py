"""The control plane with in-memory adapters: behaviour that does not depend on the mode."""

from __future__ import annotations

import asyncio

import pytest

from noetl.bus.inprocess import InProcessBus
from noetl.dsl.load import load_playbook
from noetl.errors import NoetlError
from noetl.runtime.control import ControlPlane
from noetl.store.memory import MemoryEventStore

SLOW = """
apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: slow, path: tests/slow}
workflow:
  - step: start
    tool: {kind: noop}
"""


def test_a_cancelled_parent_cancels_its_running_children():
    async def scenario():
        store, bus = MemoryEventStore(), InProcessBus()
        control = ControlPlane(store, bus)
        control.open()
        try:
            playbook = load_playbook(SLOW)
            parent = await control.start(playbook, source=SLOW)
            child = await control.start(playbook, source=SLOW, parent_execution_id=parent)
            other = await control.start(playbook, source=SLOW)
            await control.cancel(parent)
            await control.flush()
            summaries = [await store.get_execution(e) for e in (parent, child, other)]
            child_log = await store.read(child)
            return summaries, child_log
        finally:
            await control.close()
            await bus.close()

    (parent, child, other), child_log = asyncio.run(scenario())
    assert (parent.status, child.status, other.status) == ("cancelled", "cancelled", "running")
    assert child.parent_execution_id == parent.execution_id
    assert child_log[-1].type == "playbook.cancelled"
    assert f"parent execution {parent.execution_id} ended" in child_log[-1].payload["reason"]


class FlakyStore(MemoryEventStore):
    """Fails the first append with an unexpected error (a bug or a driver surprise)."""

    def __init__(self) -> None:
        super().__init__()
        self.failures = 1

    async def append_batches(self, batches, *, expected=None):
        if self.failures:
            self.failures -= 1
            raise RuntimeError("disk on fire")
        return await super().append_batches(batches, expected=expected)


def test_the_pump_survives_a_failed_batch_and_the_caller_gets_an_error():
    async def scenario():
        store, bus = FlakyStore(), InProcessBus()
        control = ControlPlane(store, bus)
        control.open()
        try:
            playbook = load_playbook(SLOW)
            with pytest.raises(NoetlError, match="RuntimeError: disk on fire"):
                await control.start(playbook, source=SLOW)
            kept = await control.start(playbook, source=SLOW)
            return await store.get_execution(kept)
        finally:
            await control.close()
            await bus.close()

    assert asyncio.run(scenario()).status == "running"
