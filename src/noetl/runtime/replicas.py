"""What a control plane learns only from the log: executions other processes wrote.

Control planes sharing a log (server replicas, or a process restarted after a crash) each keep
in memory the executions they run. Work another process left running is taken over from the
log (`Replicas.resume`: its unfinished commands issued again), and an end another replica wrote
is found by the sweeper (`Replicas.open` with `sweep`): executions idle here are looked up in
the log and finished here when they ended, their waiters answered, their memory freed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping

from noetl.bus.port import CommandBus, Pointer
from noetl.engine.commands import Command
from noetl.engine.definition import PlaybookDef
from noetl.errors import NotFoundError
from noetl.runtime.live import LiveExecution
from noetl.runtime.pump import Pump
from noetl.store.port import RUNNING, EventStore

log = logging.getLogger(__name__)

Load = Callable[[str], Awaitable[LiveExecution | None]]


class Replicas:
    """Takes over executions a gone process left running, and lets go of those another replica
    ended, for the control plane whose running executions are `lives` (it loads them with
    `load`, refreshes them through `pump`)."""

    def __init__(
        self,
        store: EventStore,
        bus: CommandBus,
        lives: Mapping[str, LiveExecution],
        pump: Pump,
        *,
        load: Load,
        pointer: Callable[[Command], Pointer],
        sweep: float | None = None,
    ) -> None:
        self.store = store
        self.bus = bus
        self.sweep = sweep  # look for executions others ended, every `sweep` seconds
        self._live = lives
        self._pump = pump
        self._load = load
        self._pointer = pointer
        self._sweeper: asyncio.Task[None] | None = None

    def open(self) -> None:
        """Start the sweeper (inside a running event loop) when there is a `sweep`."""
        if self._sweeper is None and self.sweep is not None:
            self._sweeper = asyncio.get_running_loop().create_task(self._run_sweeper(self.sweep))

    async def close(self) -> None:
        """Stop the sweeper."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None

    async def resume(self, execution_id: str) -> PlaybookDef:
        """Rebuild an execution from its log and re-issue its unfinished commands."""
        live = await self._load(execution_id)
        if live is None:
            raise NotFoundError(f"execution {execution_id} not found")
        if not live.state.terminal:
            # Whoever held its commands is gone; their new deliveries start again at attempt 1.
            await self.store.release_claims(execution_id)
            await self.bus.publish([self._pointer(c) for c in live.state.pending.values()])
        return live.playbook

    async def resume_all(self) -> list[str]:
        """Resume every execution the log says is still running (after a restart)."""
        running = await self.store.list_executions(status=RUNNING, limit=100_000)
        for summary in running:
            await self.resume(summary.execution_id)
        return [s.execution_id for s in running]

    async def _run_sweeper(self, every: float) -> None:
        """A replica learns of an end another replica wrote only from the log: executions idle
        here for `every` seconds are looked up, and finished here when they ended (their
        waiters answered, their memory freed)."""
        while True:
            await asyncio.sleep(every)
            idle_since = asyncio.get_running_loop().time() - every
            idle = [e for e, live in self._live.items() if live.touched <= idle_since]
            for execution_id in idle:
                try:
                    summary = await self.store.get_execution(execution_id)
                    if summary.status != RUNNING:
                        await self._pump.reload(execution_id)
                except NotFoundError:
                    continue  # its first write is still on its way (a start waiting for the store)
                except Exception as exc:  # the sweeper must outlive a store that blinks
                    log.warning("could not check whether execution %s ended: %s", execution_id, exc)
