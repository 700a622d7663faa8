"""Retry from failure: which finished step runs of an earlier execution a retry takes as they are.

A retry is a new execution whose `playbook.started` payload carries `retry: {of, steps}`, the
*reuse plan*: for each step name and activation number (epoch), what the earlier execution's
run of it ended with. The plan is built here from the earlier log, so the engine stays pure and
a replay of the retry needs nothing but its own log.

Rules (the engine applies them in `decide`):

- A step activated by a token that descends only from reused step runs, whose run with the same
  epoch finished in the earlier execution, is not run again: the engine records `step.reused`
  (with the result, vars and ctx changes of that run) and routes on as if it had just finished.
- A loop step whose earlier run failed or was interrupted runs again, but its iterations that
  finished (matched by index) are recorded as reused `step.reused` iterations, not re-issued.
- Everything a step run that really ran leads to runs again (tokens from it are *fresh*).
- Steps without tools (pure routing) always run; they cost nothing.
- The caller removes from the plan the steps to run again whatever happened before (`--from`,
  and steps whose definition changed between the two playbook versions).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

from noetl.engine import events as ev
from noetl.engine.commands import Command
from noetl.engine.events import Event

Plan = dict[str, dict[str, dict[str, Any]]]  # step -> epoch (as text) -> entry


# The only events a reuse plan is built from: a reader of a long log asks for these alone.
PLAN_EVENTS = frozenset(
    {ev.STEP_STARTED, ev.COMMAND_ISSUED, ev.STEP_DONE, ev.STEP_REUSED, ev.LOOP_DONE}
)


def plan_from_log(log: Iterable[Event], *, rerun: Collection[str] = ()) -> Plan:
    """The reuse plan of an execution's log: finished step runs (`ended_as` with `result`,
    `vars`, `set_ctx`) and, for loops that did not finish, their finished `iterations`.
    Steps named in `rerun` are left out."""
    reader = PlanReader()
    for event in log:
        reader.read(event)
    return reader.plan(rerun=rerun)


class PlanReader:
    """What an execution's log says each step run (and loop iteration) finished with, read
    one event at a time (in log order; events not in `PLAN_EVENTS` are ignored), so a log can
    be read in pages."""

    def __init__(self) -> None:
        self.epochs: dict[int, int] = {}  # token -> epoch of its step run
        self.commands: dict[str, tuple[int, int]] = {}  # command id -> (token, epoch)
        self.runs: dict[tuple[str, int], dict[str, Any]] = {}
        self.iterations: dict[tuple[str, int], dict[str, dict[str, Any]]] = {}

    def plan(self, *, rerun: Collection[str] = ()) -> Plan:
        """The plan of the events read so far, less the steps named in `rerun`."""
        plan: Plan = {}
        for (step, epoch), finished in self.iterations.items():
            if (step, epoch) not in self.runs:
                plan.setdefault(step, {})[str(epoch)] = {"iterations": finished}
        for (step, epoch), entry in self.runs.items():
            plan.setdefault(step, {})[str(epoch)] = entry
        return {step: entries for step, entries in plan.items() if step not in rerun}

    def read(self, event: Event) -> None:
        """Take in one event of the log (the next in seq order)."""
        p = event.payload
        if event.type == ev.STEP_STARTED:
            self.epochs[int(p["token"])] = int(p["epoch"])
        elif event.type == ev.COMMAND_ISSUED:
            command = Command.from_dict(p["command"])
            self.commands[command.command_id] = (command.token, command.epoch)
        elif event.type in (ev.STEP_DONE, ev.STEP_REUSED):
            self._finished(event)
        elif event.type == ev.LOOP_DONE and p.get("status") == "done":
            self._loop_done(event)

    def _finished(self, event: Event) -> None:
        step, p = event.step or "", event.payload
        where = _run_of(event, self.commands, self.epochs)
        if where is None:
            return  # a routing step's pass-through: always run again
        if event.iteration is None:
            self.runs[(step, where)] = _entry(p.get("ended_as", ev.STEP_DONE), p.get("result"), p)
        else:
            done = {"result": p.get("result"), "set_ctx": dict(p.get("set_ctx") or {})}
            self.iterations.setdefault((step, where), {})[str(event.iteration)] = done

    def _loop_done(self, event: Event) -> None:
        key = (event.step or "", int(event.payload["epoch"]))
        ctx: dict[str, Any] = {}
        for done in (self.iterations.get(key) or {}).values():
            ctx.update(done["set_ctx"])
        value = {"results": event.payload.get("results"), "stats": event.payload.get("stats")}
        self.runs[key] = _entry(ev.LOOP_DONE, value, {"set_ctx": ctx})


def reuse_entry(plan: Mapping[str, Any], step: str, epoch: int) -> Mapping[str, Any] | None:
    """What the plan holds for activation `epoch` of `step`, or None."""
    entries = plan.get(step)
    return None if entries is None else entries.get(str(epoch))


def _run_of(
    event: Event, commands: Mapping[str, tuple[int, int]], epochs: Mapping[int, int]
) -> int | None:
    """The epoch of the step run a `step.done` / `step.reused` belongs to."""
    if event.type == ev.STEP_REUSED:
        return int(event.payload["epoch"])
    command = commands.get(event.command_id or "")
    if command is None:
        return None
    token, epoch = command
    return epochs.get(token, epoch)


def _entry(ended_as: str, result: Any, payload: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "ended_as": ended_as,
        "result": result,
        "vars": dict(payload.get("vars") or {}),
        "set_ctx": dict(payload.get("set_ctx") or {}),
    }
