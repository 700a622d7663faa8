"""The command bus port: how pointers to commands reach workers, at least once.

A pointer names a command (the command itself lives in the event log); the bus only carries it
to one worker of the pool at a time. Delivery is at least once: a delivery that is not acked
within the lease (`ack_wait`, extended by `in_progress`) is delivered again with `attempt + 1`,
and after `max_deliver` deliveries it is dead (the runtime records `command.dead`). Every adapter
passes the contract suite in `tests/contract/test_bus.py`.

The bus also carries cancel notices: the ids of commands whose execution ended, so that the
workers running them stop. A notice is a broadcast to whoever listens now, at most once and not
stored: a command not yet started needs none (its claim is refused).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

MAX_DELIVER = 5  # deliveries of a command before it is dead (a worker it kills each time)


@dataclass(frozen=True, slots=True)
class Pointer:
    """Which command to run; `pool` chooses the workers that may take it. `reissue` is 0 for a
    command's publications, or tells a re-issue apart from them (a lease that ran out): a bus
    that drops a pointer published twice keeps a re-issue."""

    execution_id: str
    command_id: str
    step: str
    pool: str = "default"
    reissue: int = field(default=0, compare=False)


# Hears the ids of commands to stop; called in the bus's event loop, must not block.
CancelListener = Callable[[Sequence[str]], None]


class Delivery(Protocol):
    """One delivery of a pointer to a worker, with its lease."""

    pointer: Pointer
    attempt: int  # 1 on first delivery

    async def ack(self) -> None:
        """The work is finished: never deliver this pointer again."""
        ...

    async def nack(self, delay: float = 0.0) -> None:
        """Give the pointer back, to be delivered again after `delay` seconds."""
        ...

    async def in_progress(self) -> None:
        """Still working: extend the lease by the bus's `ack_wait`."""
        ...


@dataclass(frozen=True, slots=True)
class Backlog:
    """A pool's pointers on the bus: waiting for a worker, and delivered but not yet acked."""

    pending: int
    ack_pending: int


class CommandBus(Protocol):
    """Transport of command pointers from the control loop to workers."""

    async def publish(self, pointers: Sequence[Pointer]) -> None:
        """Queue pointers, each on its own pool."""
        ...

    async def fetch(self, pool: str, *, batch: int = 1, timeout: float = 1.0) -> list[Delivery]:
        """Up to `batch` deliveries from `pool`; waits up to `timeout` s for one, else []."""
        ...

    async def announce_cancel(self, command_ids: Sequence[str]) -> None:
        """Tell every listener, in every process on this bus, to stop these commands.

        Best effort: a listener that is away now never hears it, and a server that is away
        drops it (logged), since the executions have ended whether or not the work stops.
        """
        ...

    async def on_cancel(self, listener: CancelListener) -> None:
        """Call `listener` with the command ids of each cancel notice from now on."""
        ...

    async def backlog(self) -> dict[str, Backlog]:
        """Each pool's backlog (for the pools the bus knows of), for the metrics."""
        ...

    async def ping(self) -> None:
        """Return once the bus answers a round trip (the server's readiness check asks, under a
        short timeout); `BusError` saying why when it cannot. An in-process bus always does."""
        ...

    async def close(self) -> None:
        """Stop delivering and release resources. Idempotent."""
        ...
