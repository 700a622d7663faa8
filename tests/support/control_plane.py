"""A running control plane on a memory store and an in-process bus nobody reads: the tests
play the workers (claims, reports, renewals) themselves."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from noetl.bus.inprocess import InProcessBus
from noetl.runtime.control import ControlPlane
from noetl.store.memory import MemoryEventStore


@asynccontextmanager
async def control_plane(lease: float = 30.0) -> AsyncIterator[tuple[ControlPlane, InProcessBus]]:
    """The control plane (its leases last `lease` seconds) and its bus; closed on exit."""
    store, bus = MemoryEventStore(), InProcessBus(ack_wait=30.0)
    control = ControlPlane(store, bus, lease=lease)
    control.open()
    try:
        yield control, bus
    finally:
        await control.close()
        await bus.close()
