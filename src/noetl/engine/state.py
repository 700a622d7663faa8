"""ExecutionState and `evolve`: what an execution's events say about it.

`evolve(state, event)` applies one event's facts in place and returns the state (in place,
because copying the state per event would make a 10,000-item loop quadratic). Two pieces of
bookkeeping are not carried by event payloads and are kept by `decide` itself: tokens held at a
`join: all` step and the rendered collection of a running loop. `replay` rebuilds them by
re-running the decisions, which is why a state is always rebuilt with `replay`, never by folding
`evolve` alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from noetl.engine import events as ev
from noetl.engine.commands import Command, claim_digest
from noetl.engine.events import Event
from noetl.engine.references import Loaded

RUNNING = "running"
TERMINAL_STATUSES = frozenset({"done", "failed", "cancelled"})


@dataclass(slots=True)
class Token:
    """A token placed on a step by a fired arc: its `args` and the step it came from."""

    id: int
    args: dict[str, Any]
    source: str | None = None
    fresh: bool = True  # False: descends only from reused step runs (a retry may reuse more)


@dataclass(slots=True)
class LoopProgress:
    """A running loop of one step run. Results are kept in item order."""

    items: list[Any]
    iterator: str
    limit: int  # iterations in flight at most (1 when sequential)
    next_index: int = 0
    in_flight: int = 0
    finished: int = 0
    failed: int = 0
    results: list[Any] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def count(self) -> int:
        """Number of iterations."""
        return len(self.items)


@dataclass(slots=True)
class Run:
    """One activation of a step that has not reached its terminal event yet."""

    step: str
    token: int
    epoch: int
    args: dict[str, Any]
    source: str | None = None
    loop: LoopProgress | None = None
    fresh: bool = True  # really run (not reused): what it leads to runs again in a retry
    reused_iterations: dict[str, Any] = field(default_factory=dict)  # index -> finished earlier


@dataclass(slots=True)
class ExecutionState:
    """Everything routing needs to know about one execution."""

    execution_id: str = ""
    status: str = "new"
    workload: dict[str, Any] = field(default_factory=dict)
    ctx: dict[str, Any] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)  # step name -> latest result
    step_vars: dict[str, dict[str, Any]] = field(default_factory=dict)
    runs: dict[int, Run] = field(default_factory=dict)  # active step runs by token id
    running: dict[str, int] = field(default_factory=dict)  # step -> active runs
    pending: dict[str, Command] = field(default_factory=dict)  # issued, not terminal
    holders: dict[str, str] = field(default_factory=dict)  # command id -> claim_digest
    held: dict[str, list[Token]] = field(default_factory=dict)  # join: all tokens waiting
    epochs: dict[str, int] = field(default_factory=dict)  # step -> activations so far
    seen: set[str] = field(default_factory=set)  # keys applied of events about no command
    # Keys applied per pending command, forgotten when it ends: a repeat of an ended command's
    # event changes nothing anyway, so a long execution keeps no key per event it ever had.
    command_seen: dict[str, set[str]] = field(default_factory=dict)
    next_token: int = 1
    last_seq: int = 0
    last_result: Any = None
    result: Any = None
    error: dict[str, Any] | None = None
    parent_execution_id: str | None = None
    retry_of: str | None = None  # the execution this one retries
    reuse: dict[str, Any] = field(default_factory=dict)  # its reuse plan (see engine.reuse)
    # Stored results the shell loaded for control-plane templates (not from events: results are
    # immutable, so a replay given the same references loads the same; see engine.references).
    loaded: Loaded = field(default_factory=Loaded)

    @property
    def terminal(self) -> bool:
        """True once the execution is done, failed or cancelled."""
        return self.status in TERMINAL_STATUSES

    @property
    def idle(self) -> bool:
        """No step runs, commands or held tokens remain."""
        return not self.runs and not self.pending and not self.held

    def applied(self, event: Event) -> bool:
        """Whether an event with this idempotency key was applied (for a command that ended:
        whether it is the engine's own, which only a repeat can bring back; anything else
        about an ended command changes nothing)."""
        command_id = event.command_id
        if command_id is None:
            return event.key in self.seen
        if command_id not in self.pending:
            return event.origin == "engine"
        return event.key in self.command_seen.get(command_id, ())

    def snapshot(self) -> dict[str, Any]:
        """A plain-dict view for comparisons and debugging (not a persistence format)."""
        return {
            "execution_id": self.execution_id,
            "status": self.status,
            "workload": self.workload,
            "ctx": self.ctx,
            "results": self.results,
            "step_vars": self.step_vars,
            "runs": {k: _run_view(r) for k, r in sorted(self.runs.items())},
            "running": {k: v for k, v in sorted(self.running.items()) if v},
            "pending": sorted(self.pending),
            "held": {k: [(t.id, t.args, t.source) for t in v] for k, v in self.held.items()},
            "epochs": dict(sorted(self.epochs.items())),
            "seen": sorted(self.seen),
            "command_seen": {k: sorted(v) for k, v in sorted(self.command_seen.items())},
            "next_token": self.next_token,
            "last_result": self.last_result,
            "result": self.result,
            "error": self.error,
        }


def _run_view(run: Run) -> dict[str, Any]:
    view: dict[str, Any] = {"step": run.step, "epoch": run.epoch, "args": run.args}
    if run.loop is not None:
        lp = run.loop
        view["loop"] = [lp.count, lp.next_index, lp.in_flight, lp.finished, lp.failed]
    return view


def evolve(state: ExecutionState, event: Event) -> ExecutionState:
    """Apply one event's facts to `state` (in place) and return it."""
    if event.seq is not None:
        state.last_seq = max(state.last_seq, event.seq)
    apply = _APPLY.get(event.type)
    if apply is not None:
        apply(state, event)
    command_id = event.command_id
    if command_id is None:
        state.seen.add(event.key)
    elif command_id in state.pending:
        state.command_seen.setdefault(command_id, set()).add(event.key)
    else:  # it ended (or never was): nothing about it can change the state any more
        state.command_seen.pop(command_id, None)
    return state


def _started(state: ExecutionState, event: Event) -> None:
    state.execution_id = event.execution_id
    state.status = RUNNING
    state.workload = dict(event.payload.get("workload") or {})
    state.parent_execution_id = event.payload.get("parent_execution_id")
    retry = event.payload.get("retry") or {}
    state.retry_of = retry.get("of")
    state.reuse = dict(retry.get("steps") or {})


def _ended(state: ExecutionState, event: Event) -> None:
    state.status = {
        ev.PLAYBOOK_DONE: "done",
        ev.PLAYBOOK_FAILED: "failed",
        ev.PLAYBOOK_CANCELLED: "cancelled",
    }[event.type]
    if event.type == ev.PLAYBOOK_DONE:
        state.result = event.payload.get("result")
    else:
        state.error = dict(event.payload.get("error") or {"message": event.payload.get("reason")})
    state.pending.clear()
    state.command_seen.clear()
    state.holders.clear()
    state.runs.clear()
    state.running.clear()
    state.held.clear()


def _step_started(state: ExecutionState, event: Event) -> None:
    step = event.step or ""
    p = event.payload
    token = int(p["token"])
    state.runs[token] = Run(
        step, token, int(p["epoch"]), dict(p.get("args") or {}), p.get("source")
    )
    state.running[step] = state.running.get(step, 0) + 1
    state.epochs[step] = int(p["epoch"])
    state.next_token = max(state.next_token, token + 1)
    state.held.pop(step, None)


def _step_skipped(state: ExecutionState, event: Event) -> None:
    state.next_token = max(state.next_token, int(event.payload["token"]) + 1)
    state.held.pop(event.step or "", None)


def _command_issued(state: ExecutionState, event: Event) -> None:
    command = Command.from_dict(event.payload["command"])
    state.pending[command.command_id] = command
    run = state.runs.get(command.token)
    if run is not None and run.loop is not None and command.iteration is not None:
        run.loop.next_index = max(run.loop.next_index, command.iteration + 1)
        run.loop.in_flight += 1


def _command_claimed(state: ExecutionState, event: Event) -> None:
    """The command is held by the claim whose token digest this is (a later claim replaces
    it). A log written before digests carries the token itself (`claim_token`): it is hashed
    here, so a command claimed before an upgrade is still reported on by its holder."""
    if event.command_id in state.pending:
        p = event.payload
        old_token = p.get("claim_token")
        digest = claim_digest(str(old_token)) if old_token else p.get("claim_token_sha256")
        state.holders[event.command_id] = str(digest or "")


def _step_ended(state: ExecutionState, event: Event) -> None:
    """A step run or one loop iteration reached step.done / step.failed."""
    if event.command_id is not None:
        command = state.pending.pop(event.command_id, None)
        state.holders.pop(event.command_id, None)
        if command is None:
            return  # duplicate, late or unknown: nothing to apply
        token = command.token
    else:
        token = int(event.payload["token"])
    set_ctx = event.payload.get("set_ctx")
    if set_ctx:
        state.ctx.update(set_ctx)
    run = state.runs.get(token)
    if run is None:
        return
    done = event.type == ev.STEP_DONE
    if event.iteration is not None and run.loop is not None:
        _iteration_ended(run.loop, event, done)
        return
    _run_ended(state, run)
    state.step_vars[run.step] = dict(event.payload.get("vars") or {})
    if done:
        state.results[run.step] = event.payload.get("result")
        state.last_result = event.payload.get("result")


def _step_reused(state: ExecutionState, event: Event) -> None:
    """A retry took a step run's (or one iteration's) result from the execution it retries."""
    p = event.payload
    if p.get("set_ctx"):
        state.ctx.update(p["set_ctx"])
    run = state.runs.get(int(p["token"]))
    if run is None:
        return
    if event.iteration is not None and run.loop is not None:
        loop = run.loop
        loop.next_index = max(loop.next_index, event.iteration + 1)
        loop.finished += 1
        loop.results[event.iteration] = p.get("result")
        return
    _run_ended(state, run)
    state.step_vars[run.step] = dict(p.get("vars") or {})
    state.results[run.step] = p.get("result")
    state.last_result = p.get("result")


def _iteration_ended(loop: LoopProgress, event: Event, done: bool) -> None:
    index = int(event.iteration or 0)
    loop.in_flight -= 1
    loop.finished += 1
    if done:
        loop.results[index] = event.payload.get("result")
    else:
        loop.failed += 1
        loop.errors.append({"index": index, "error": event.payload.get("error")})


def _loop_done(state: ExecutionState, event: Event) -> None:
    run = state.runs.get(int(event.payload["token"]))
    if run is None:
        return
    _run_ended(state, run)
    value = {"results": event.payload.get("results"), "stats": event.payload.get("stats")}
    state.results[run.step] = value
    state.step_vars[run.step] = {}
    if event.payload.get("status") == "done":
        state.last_result = value


def _ctx_set(state: ExecutionState, event: Event) -> None:
    state.ctx.update(event.payload.get("set_ctx") or {})


def _run_ended(state: ExecutionState, run: Run) -> None:
    state.runs.pop(run.token, None)
    left = state.running.get(run.step, 0) - 1
    if left > 0:
        state.running[run.step] = left
    else:
        state.running.pop(run.step, None)


_APPLY = {
    ev.PLAYBOOK_STARTED: _started,
    ev.PLAYBOOK_DONE: _ended,
    ev.PLAYBOOK_FAILED: _ended,
    ev.PLAYBOOK_CANCELLED: _ended,
    ev.STEP_STARTED: _step_started,
    ev.STEP_SKIPPED: _step_skipped,
    ev.COMMAND_ISSUED: _command_issued,
    ev.COMMAND_CLAIMED: _command_claimed,
    ev.STEP_DONE: _step_ended,
    ev.STEP_FAILED: _step_ended,
    ev.STEP_REUSED: _step_reused,
    ev.LOOP_DONE: _loop_done,
    ev.CTX_SET: _ctx_set,
}
