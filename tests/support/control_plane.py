"""A running control plane on a memory store and an in-process bus nobody reads: the tests
play the workers (claims, reports, renewals) themselves."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from noetl.bus.inprocess import InProcessBus
from noetl.runtime.control import ControlPlane
from noetl.store.memory import MemoryEventStore
from noetl.store.port import EventStore


@asynccontextmanager
async def control_plane(
    lease: float = 30.0,
    *,
    store: EventStore | None = None,
    bus: InProcessBus | None = None,
    sweep: float | None = None,
) -> AsyncIterator[tuple[ControlPlane, InProcessBus]]:
    """The control plane (its leases last `lease` seconds; replicas' sweep every `sweep`) on
    `store` (a new memory store) and `bus` (a new in-process one), with the bus; the control
    plane and the bus are closed on exit."""
    bus = bus if bus is not None else InProcessBus(ack_wait=30.0)
    control = ControlPlane(
        store if store is not None else MemoryEventStore(), bus, lease=lease, sweep=sweep
    )
    control.open()
    try:
        yield control, bus
    finally:
        await control.close()
        await bus.close()
