"""What follows a batch once the control plane's pump has written it to the log.

The executions it touched catch up with the log (their last seq, the commands they issued), the
leases and timers of the commands that ended are let go, metrics (`Observer`) and listeners are
told what was written, the commands planned for reporting workers are handed to them and the
rest published, and the executions that ended are finished here: their memory freed, their
claims forgotten, their waiters answered, and, when they did not succeed, their running child
executions cancelled.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, MutableMapping

from noetl.bus.port import Pointer
from noetl.engine.commands import Command
from noetl.engine.decide import cancel_event
from noetl.engine.events import Event
from noetl.observe import tracing
from noetl.observe.hooks import Observer
from noetl.runtime.claims import hand_off
from noetl.runtime.leases import Leases
from noetl.runtime.live import DecidedBatch, LiveExecution
from noetl.runtime.publisher import Publisher
from noetl.runtime.pump import Pump

EventListener = Callable[[Event], None]


class FollowUp:
    """Acts on what a written batch says, for the control plane whose running executions are
    `lives` (it publishes through `publisher`, holds handed-off commands with `leases`, and
    cancels child executions through `pump`)."""

    def __init__(
        self,
        lives: MutableMapping[str, LiveExecution],
        pump: Pump,
        publisher: Publisher,
        leases: Leases,
        *,
        pointer: Callable[[Command], Pointer],
    ) -> None:
        self.observer = Observer()  # metrics: what is written, routed, how long batches take
        self._live = lives
        self._pump = pump
        self._publisher = publisher
        self._leases = leases
        self._pointer = pointer
        self._listeners: list[EventListener] = []

    def listen(self, listener: EventListener) -> None:
        """Call `listener` with every event once it is in the log."""
        self._listeners.append(listener)

    def written(self, batch: DecidedBatch, written: Mapping[str, list[Event]]) -> None:
        """Act on `batch`, now in the log as `written` (its events with their seqs)."""
        now = asyncio.get_running_loop().time()
        for execution_id, events in written.items():
            live = self._live.get(execution_id)
            if live is not None and events:
                live.state.last_seq = max(live.state.last_seq, events[-1].seq or 0)
                live.touched = now
                live.note_issued(events)
        for execution_id, command_id in batch.ended:  # their holders' leases and timers end
            live = self._live.get(execution_id)
            if live is not None:
                live.release(command_id)
                live.issued.pop(command_id, None)
        self._tell_observer(batch, written)
        hand_off(batch, self._live, self._leases.hold_handed)
        self._announce(written)
        # Publishing waits for the bus; the log has the commands, so nobody waits for that.
        pointers = [self._pointer(c) for c in batch.commands if c.command_id not in batch.handed]
        self._publisher.send(pointers, batch.cancelled)
        for execution_id in batch.finished:
            self.finish(execution_id)

    def finish(self, execution_id: str) -> None:
        """The execution ended (here, or in the log another control plane wrote): let it go,
        answer its waiters, and take its running children with it unless it succeeded."""
        live = self._live.pop(execution_id, None)
        if live is None:
            return
        live.stop()
        self._leases.ended(execution_id)  # the claims table holds only running executions' rows
        tracing.end(live.span, live.state.status, live.state.error)
        if not live.done.done():
            live.done.set_result(None)
        if live.state.status != "done":
            self._stop_children(execution_id)

    def _tell_observer(self, batch: DecidedBatch, written: Mapping[str, list[Event]]) -> None:
        for execution_id, events in written.items():
            live = self._live.get(execution_id)
            if live is not None and events:
                self.observer.written(live.playbook, events)
        for execution_id, routing in batch.routed:
            live = self._live.get(execution_id)
            if live is not None:
                self.observer.routed(live.playbook, routing)

    def _announce(self, written: Mapping[str, list[Event]]) -> None:
        if not self._listeners:
            return
        for events in written.values():
            for event in events:
                for listener in self._listeners:
                    listener(event)

    def _stop_children(self, parent_execution_id: str) -> None:
        """A parent that failed or was cancelled takes its running child executions with it."""
        children = [
            execution_id
            for execution_id, live in self._live.items()
            if live.state.parent_execution_id == parent_execution_id and not live.state.terminal
        ]
        reason = f"parent execution {parent_execution_id} ended"
        self._pump.put([cancel_event(child, reason) for child in children])
