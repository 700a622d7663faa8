"""The control plane with in-memory adapters: behaviour that does not depend on the mode."""

from __future__ import annotations

import asyncio

from noetl.bus.inprocess import InProcessBus
from noetl.dsl.load import load_playbook
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
