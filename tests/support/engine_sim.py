"""A deterministic stand-in for the runtime: drives the pure engine with scripted worker outcomes.

Used by the engine unit tests, the golden-history recorder, the property tests and the engine
benchmark. It plays the part of the store (assigns seq) and of the workers (answers commands).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from noetl.engine import events as ev
from noetl.engine.commands import Command, expired_event
from noetl.engine.decide import decide, start
from noetl.engine.decision import Decision
from noetl.engine.definition import PlaybookDef
from noetl.engine.events import Event
from noetl.engine.reuse import plan_from_log
from noetl.engine.state import ExecutionState

# A worker outcome: ("done", result) or ("failed", error-dict) or ("expired", None).
Outcome = tuple[str, Any]
Worker = Callable[[Command], Outcome]


def ok_worker(command: Command) -> Outcome:
    """Every command succeeds; the result names the step (and the item for loops)."""
    if command.iter is not None:
        return "done", {"step": command.step, "index": command.iter["index"]}
    return "done", {"step": command.step}


def worker_event(command: Command, outcome: Outcome) -> Event:
    """The terminal event a worker (or the runtime, for expiry) sends for a command."""
    status, value = outcome
    if status == "expired":
        return expired_event(command)
    payload: dict[str, Any] = {"vars": {}, "set_ctx": {}}
    if status == "done":
        payload["result"] = value
    else:
        payload["error"] = value
    return Event(
        ev.STEP_DONE if status == "done" else ev.STEP_FAILED,
        command.execution_id,
        command.step,
        command.iteration,
        command.command_id,
        payload,
        origin="worker",
        idempotency_key=f"step.end|{command.command_id}",
    )


@dataclass
class Simulation:
    """One execution driven to its end."""

    playbook: PlaybookDef
    execution_id: str = "1"
    log: list[Event] = field(default_factory=list)
    state: ExecutionState = field(default_factory=ExecutionState)
    queue: list[Command] = field(default_factory=list)

    def record(self, decision: Decision, incoming: Event | None = None) -> None:
        self.state = decision.state
        for event in ([incoming] if incoming is not None else []) + list(decision.events):
            self.log.append(replace(event, seq=len(self.log) + 1))
        dropped = set(decision.cancelled)
        self.queue = [c for c in self.queue if c.command_id not in dropped]
        self.queue.extend(decision.commands)

    def start(
        self, payload: dict[str, Any] | None = None, *, retry: dict[str, Any] | None = None
    ) -> Simulation:
        self.record(start(self.playbook, self.execution_id, payload, retry=retry))
        return self

    def feed(self, event: Event) -> Decision:
        decision = decide(self.playbook, self.state, event)
        self.record(decision, event)
        return decision

    def run(self, worker: Worker = ok_worker, rng: random.Random | None = None) -> Simulation:
        """Answer commands (FIFO, or in random order with `rng`) until none are left."""
        while self.queue and not self.state.terminal:
            index = rng.randrange(len(self.queue)) if rng else 0
            command = self.queue.pop(index)
            self.feed(worker_event(command, worker(command)))
        return self


def retry_simulation(
    failed: Simulation, playbook: PlaybookDef | None = None, *, rerun: tuple[str, ...] = ()
) -> Simulation:
    """A retry of `failed` (execution id one higher), started but not run: its plan reuses
    what `failed` finished, less the steps in `rerun`."""
    plan = plan_from_log(failed.log, rerun=rerun)
    retry = {"of": failed.execution_id, "steps": plan}
    sim = Simulation(playbook or failed.playbook, str(int(failed.execution_id) + 1))
    return sim.start(dict(failed.log[0].payload.get("payload") or {}), retry=retry)


def simulate(
    playbook: PlaybookDef,
    worker: Worker = ok_worker,
    *,
    payload: dict[str, Any] | None = None,
    rng: random.Random | None = None,
) -> Simulation:
    """Start an execution and run it to its end."""
    return Simulation(playbook).start(payload).run(worker, rng)


def types(log: list[Event]) -> list[tuple[str, str | None]]:
    """(type, step) of each event: the shape of a history, for compact assertions."""
    return [(e.type, e.step) for e in log]
