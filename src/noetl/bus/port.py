"""The command bus port: how pointers to commands reach workers, at least once.

A pointer names a command (the command itself lives in the event log); the bus only carries it
to one worker of the pool at a time. Delivery is at least once: a delivery that is not acked
within the lease (`ack_wait`, extended by `in_progress`) is delivered again with `attempt + 1`,
and after `max_deliver` deliveries it is dead (the runtime records `command.dead`). Every adapter
passes the contract suite in `tests/contract/test_bus.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Pointer:
    """Which command to run; `pool` chooses the workers that may take it."""

    execution_id: str
    command_id: str
    step: str
    pool: str = "default"


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


class CommandBus(Protocol):
    """Transport of command pointers from the control loop to workers."""

    async def publish(self, pointers: Sequence[Pointer]) -> None:
        """Queue pointers, each on its own pool."""
        ...

    async def fetch(self, pool: str, *, batch: int = 1, timeout: float = 1.0) -> list[Delivery]:
        """Up to `batch` deliveries from `pool`; waits up to `timeout` s for one, else []."""
        ...

    async def close(self) -> None:
        """Stop delivering and release resources. Idempotent."""
        ...
