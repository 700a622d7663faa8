"""Whether the server can do its work now: its event store and its bus each answer a round trip
within a short time. Liveness (`/health`) asks nothing of them; readiness (`/ready`) does, so
a load balancer or Kubernetes sends requests only to a server whose dependencies answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from noetl.bus.port import CommandBus
from noetl.errors import NoetlError
from noetl.store.port import EventStore

# Seconds each dependency has to answer. Short: a probe must not hang (Kubernetes' own default
# probe timeout is 1 s; raise its `timeoutSeconds` to 3 for this one).
READY_TIMEOUT = 2.0


@dataclass(frozen=True)
class DependencyState:
    """One dependency's answer: up, or down and why (in words, never a password)."""

    name: str
    up: bool
    reason: str | None = None


async def check_readiness(
    store: EventStore, bus: CommandBus, timeout: float = READY_TIMEOUT
) -> list[DependencyState]:
    """The event store's and the bus's states, both asked at once, each within `timeout`."""
    return list(
        await asyncio.gather(
            _ask("event_store", store.ping, timeout), _ask("bus", bus.ping, timeout)
        )
    )


async def _ask(name: str, ping: Callable[[], Awaitable[None]], timeout: float) -> DependencyState:
    try:
        await asyncio.wait_for(ping(), timeout)
    except TimeoutError:
        return DependencyState(name, False, f"no answer within {timeout:g} s")
    except NoetlError as exc:  # the adapters' messages name the server, never a password
        return DependencyState(name, False, " ".join(str(exc).split()))
    return DependencyState(name, True)
