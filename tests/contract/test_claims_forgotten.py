"""The claims table holds only running executions' rows: the control plane deletes an
execution's claims when it ends (D16), on every event store adapter (memory, SQLite,
PostgreSQL). Observed through the port: a claim row that is gone lets its attempt win again."""

from __future__ import annotations

from noetl.bus.inprocess import InProcessBus
from noetl.dsl.load import load_playbook
from noetl.runtime.control import ControlPlane
from noetl.store.port import EventStore
from support.engine_sim import worker_event

TWO_STEPS = """
apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: two, path: tests/two}
workflow:
  - step: start
    tool: {kind: noop}
    next: [{step: second}]
  - step: second
    tool: {kind: noop}
"""


def test_an_ended_executions_claims_are_deleted(event_store):
    async def body(store: EventStore) -> tuple[list[bool], list[bool], str]:
        bus = InProcessBus()
        control = ControlPlane(store, bus)
        control.open()
        try:
            execution_id = await control.start(load_playbook(TWO_STEPS), source=TWO_STEPS)
            claimed, running = [], []
            for _ in range(2):  # each step through the bus: a claim row each
                [delivery] = await bus.fetch("default", timeout=2.0)
                item = await control.claim(delivery.pointer, delivery.attempt)
                assert item is not None
                claimed.append(item.command)
                if len(claimed) == 2:  # still running: the first step's row is there
                    running += await store.claim([(execution_id, claimed[0].command_id, 1)])
                await control.report([worker_event(item.command, ("done", 1))], item.token)
                await delivery.ack()
            status = (await control.wait(execution_id)).status
        finally:
            await control.close()  # waits for the claims being deleted
            await bus.close()
        after = await store.claim([(execution_id, c.command_id, 1) for c in claimed])
        return running, after, status

    while_running, after_end, status = event_store.run(body)
    assert status == "done"
    assert while_running == [False]  # the first step's row is there until the end
    assert after_end == [True, True]  # both rows gone: attempt 1 wins again
