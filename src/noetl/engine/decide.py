"""decide: from (playbook, state, incoming event) to the engine's new events and commands.

The incoming event is applied with `evolve`; the engine then reacts: it activates steps that
received tokens (guard -> skipped or started), issues commands, runs loops, routes finished step
runs through their `next` arcs, fires synchronizing joins and ends the execution. Every event the
engine emits is applied to the state as it is emitted, so the returned state already reflects
the whole decision. Nothing here reads a clock, the environment or does I/O. Routing through
arcs is `arcs.py`'s; emitting and the decision's result are `decision.py`'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from noetl.engine import events as ev
from noetl.engine.arcs import ArcRouter
from noetl.engine.commands import Command, command_id_for
from noetl.engine.decision import END_KEY, Decision
from noetl.engine.definition import PlaybookDef, StepDef
from noetl.engine.events import Event
from noetl.engine.reuse import reuse_entry
from noetl.engine.routing import base_scope, deep_merge, ready_joins, truthy
from noetl.engine.state import ExecutionState, LoopProgress, Run, Token, evolve
from noetl.errors import EngineError, TemplateError


def start_event(
    playbook: PlaybookDef,
    execution_id: str,
    payload: Mapping[str, Any] | None = None,
    *,
    parent_execution_id: str | None = None,
    retry: Mapping[str, Any] | None = None,
    trigger: Mapping[str, Any] | None = None,
    workload: Mapping[str, Any] | None = None,
) -> Event:
    """The `playbook.started` event: the workload deep-merged with the request payload.

    `retry` is `{of, steps}` for a retry (see `noetl.engine.reuse`); `trigger` says what
    started the execution when it was not a person (`{schedule, slot}`, `{hook}`). The shell
    gives `workload` when it rendered the merged workload's templates once at start.
    """
    merged = deep_merge(playbook.workload, payload or {}) if workload is None else workload
    body: dict[str, Any] = {
        "playbook": {"name": playbook.name, "path": playbook.path, "version": playbook.version},
        "workload": dict(merged),
        "payload": dict(payload or {}),
        "parent_execution_id": parent_execution_id,
    }
    if retry is not None:
        body["retry"] = dict(retry)
    if trigger is not None:
        body["trigger"] = dict(trigger)
    return Event(
        ev.PLAYBOOK_STARTED, execution_id, payload=body, idempotency_key="playbook.started"
    )


def start(
    playbook: PlaybookDef,
    execution_id: str,
    payload: Mapping[str, Any] | None = None,
    *,
    parent_execution_id: str | None = None,
    retry: Mapping[str, Any] | None = None,
) -> Decision:
    """Start an execution: `playbook.started`, then the entry step's activation."""
    event = start_event(
        playbook, execution_id, payload, parent_execution_id=parent_execution_id, retry=retry
    )
    decision = decide(playbook, ExecutionState(), event)
    return Decision(decision.state, (event, *decision.events), decision.commands)


def cancel_event(execution_id: str, reason: str = "cancelled by request") -> Event:
    """The client's `playbook.cancelled` event."""
    return Event(
        ev.PLAYBOOK_CANCELLED,
        execution_id,
        payload={"reason": reason},
        origin="client",
        idempotency_key=END_KEY,
    )


def decide(playbook: PlaybookDef, state: ExecutionState, event: Event) -> Decision:
    """Apply `event` to `state` and decide what follows. Duplicates change nothing."""
    if state.applied(event):
        return Decision(state)
    if state.execution_id and event.execution_id != state.execution_id:
        raise EngineError(
            f"event for execution {event.execution_id} given to execution {state.execution_id}"
        )
    if event.type in _RECORDS and event.command_id in state.pending:
        # Only recorded (who holds the command, that it started, a task's attempt): the runs,
        # tokens and pending commands routing reads stay as they were, the command is still
        # pending, so there is no step to route, no join to fire and no end to reach.
        evolve(state, event)
        return Decision(state)
    if state.terminal or (state.status == "new" and event.type != ev.PLAYBOOK_STARTED):
        if event.type not in ev.TERMINAL_PLAYBOOK:
            evolve(state, event)  # recorded for the log; it decides nothing any more
        return Decision(state)
    return _Decider(playbook, state).react(event)


# Facts about a pending command that route nothing (most of a step's events): decided by
# recording them alone.
_RECORDS = frozenset({ev.COMMAND_CLAIMED, ev.COMMAND_STARTED, ev.TASK_DONE, ev.TASK_FAILED})


class _Decider(ArcRouter):
    """One decision in progress: activates steps, issues commands, runs loops."""

    def react(self, event: Event) -> Decision:
        command = self.s.pending.get(event.command_id) if event.command_id else None
        run = self.s.runs.get(command.token) if command is not None else None
        if event.type == ev.PLAYBOOK_CANCELLED:
            self.cancelled.extend(self.s.pending)
        evolve(self.s, event)
        if event.type == ev.PLAYBOOK_STARTED:
            # A retry starts from tokens that may reuse; a new execution runs everything.
            fresh = self.s.retry_of is None
            self.queue.append((self.pb.entry, self._token({}, None, fresh)))
        elif command is not None and run is not None:
            if event.type in (ev.STEP_DONE, ev.STEP_FAILED):
                self._command_ended(command, run, event)
            elif event.type in (ev.COMMAND_EXPIRED, ev.COMMAND_DEAD):
                self._command_lost(command, run, event)
        self._drain()
        self._settle()
        return Decision(
            self.s,
            tuple(self.events),
            tuple(self.commands),
            tuple(self.cancelled),
            tuple(self.routed),
        )

    # -- tokens, activation -------------------------------------------------------------------

    def _drain(self) -> None:
        while self.queue and not self.s.terminal:
            target, token = self.queue.popleft()
            step = self.pb.step(target)
            if step.join == "all":
                self.s.held.setdefault(target, []).append(token)
            else:
                self._activate(step, token, None)

    def _settle(self) -> None:
        while not self.s.terminal:
            ready = ready_joins(self.pb, self.s)
            if not ready:
                break
            tokens = self.s.held[ready[0]]
            args: dict[str, Any] = {}
            for held in tokens:
                args.update(held.args)
            joined = [t.id for t in tokens]
            fresh = any(t.fresh for t in tokens)
            token = self._token(args, tokens[-1].source, fresh)
            self._activate(self.pb.step(ready[0]), token, joined)
            self._drain()
        if self.s.status == "running" and self.s.idle:
            self._emit(ev.PLAYBOOK_DONE, None, {"result": self.s.last_result}, END_KEY)

    def _activate(self, step: StepDef, token: Token, joined: list[int] | None) -> None:
        epoch = self.s.epochs.get(step.name, 0) + 1
        if step.when is not None:
            where = f"step '{step.name}' when"
            try:
                enabled = truthy(self._render(step.when, base_scope(self.s, token.args), where))
            except TemplateError as exc:
                self._fail_execution({"kind": "template", "message": str(exc), "step": step.name})
                return
            if not enabled:
                payload = {"token": token.id, "epoch": epoch, "reason": "when is false"}
                self._emit(
                    ev.STEP_SKIPPED, step.name, payload, f"step.skipped|{step.name}|{token.id}"
                )
                return
        payload = {"token": token.id, "epoch": epoch, "args": token.args, "source": token.source}
        if joined is not None:
            payload["joined"] = joined
        self._emit(ev.STEP_STARTED, step.name, payload, f"step.started|{step.name}|{token.id}")
        run = self.s.runs[token.id]
        run.fresh = token.fresh or bool(step.tasks)
        entry = (
            None if token.fresh or not step.tasks else reuse_entry(self.s.reuse, step.name, epoch)
        )
        if entry is not None and "ended_as" in entry:
            self._reuse_run(step, run, entry)
        elif step.loop is not None:
            run.reused_iterations = dict(entry["iterations"]) if entry is not None else {}
            self._start_loop(step, run)
        elif step.tasks:
            self._issue(step, run, None, None)
        else:
            self._pass_through(step, run)

    def _reuse_run(self, step: StepDef, run: Run, entry: Mapping[str, Any]) -> None:
        """A retry: the execution it retries finished this step run; take its outcome."""
        run.fresh = False
        step_vars = dict(entry.get("vars") or {})
        payload = {
            "token": run.token,
            "epoch": run.epoch,
            "from_execution": self.s.retry_of,
            "ended_as": entry["ended_as"],
            "result": entry.get("result"),
            "vars": step_vars,
            "set_ctx": dict(entry.get("set_ctx") or {}),
        }
        self._emit(ev.STEP_REUSED, step.name, payload, f"step.reused|{step.name}|{run.token}")
        self._route(run, "success", entry["ended_as"], None, step_vars)

    def _pass_through(self, step: StepDef, run: Run) -> None:
        """A step without tools: its result is its args, else the result it was routed from."""
        result = run.args if run.args else self.s.results.get(run.source or "")
        payload = {"token": run.token, "result": result, "vars": {}}
        self._emit(ev.STEP_DONE, step.name, payload, f"step.end|{step.name}|{run.token}")
        self._route(run, "success", ev.STEP_DONE, None, {}, own_set_ctx=True)

    def _issue(
        self, step: StepDef, run: Run, iteration: int | None, scope: dict[str, Any] | None
    ) -> None:
        cid = command_id_for(self.s.execution_id, step.name, run.token, iteration, run.epoch)
        command = Command(
            cid,
            self.s.execution_id,
            step.name,
            run.token,
            run.epoch,
            iteration,
            run.args,
            scope,
            self.pb.pool,
            step.timeout,
        )
        payload = {"command": command.to_dict()}
        key = f"command.issued|{cid}"
        self._emit(ev.COMMAND_ISSUED, step.name, payload, key, iteration=iteration, command_id=cid)
        self.commands.append(command)

    def _fail_run(self, step: StepDef, run: Run, error: dict[str, Any]) -> None:
        payload = {"token": run.token, "error": error, "vars": {}}
        self._emit(ev.STEP_FAILED, step.name, payload, f"step.end|{step.name}|{run.token}")
        self._route(run, "error", ev.STEP_FAILED, error, {})

    # -- loops ----------------------------------------------------------------------------------

    def _start_loop(self, step: StepDef, run: Run) -> None:
        assert step.loop is not None
        where = f"step '{step.name}' loop.in"
        try:
            items = self._render(step.loop.in_, base_scope(self.s, run.args), where)
        except TemplateError as exc:
            self._fail_run(step, run, {"kind": "template", "message": str(exc)})
            return
        if isinstance(items, (str, bytes, Mapping)) or not hasattr(items, "__iter__"):
            kind = type(items).__name__
            message = f"{where} must render to a list, got {kind}"
            self._fail_run(step, run, {"kind": "loop", "message": message})
            return
        values = list(items)
        limit = self._in_flight(step, run) if step.loop.mode == "parallel" else 1
        if limit is None:
            return
        run.loop = LoopProgress(values, step.loop.iterator, limit, results=[None] * len(values))
        payload = {"token": run.token, "epoch": run.epoch, "count": len(values)}
        self._emit(ev.LOOP_STARTED, step.name, payload, f"loop.started|{step.name}|{run.token}")
        self._fill(step, run, run.loop)

    def _in_flight(self, step: StepDef, run: Run) -> int | None:
        """The loop's `max_in_flight`, rendered when it is a template; None when that failed
        (the step run has failed then)."""
        assert step.loop is not None
        limit = step.loop.max_in_flight
        if isinstance(limit, int):
            return max(1, limit)
        where = f"step '{step.name}' loop.spec.max_in_flight"
        try:
            value = self._render(limit, base_scope(self.s, run.args), where)
        except TemplateError as exc:
            self._fail_run(step, run, {"kind": "template", "message": str(exc)})
            return None
        number = _whole_number(value)
        if number is None or number < 1:
            message = f"{where} must render to a whole number of at least 1, got {value!r}"
            self._fail_run(step, run, {"kind": "template", "message": message})
            return None
        return number

    def _fill(self, step: StepDef, run: Run, loop: LoopProgress) -> None:
        """Issue iterations up to the in-flight limit (a retry's finished ones are reused, not
        issued); end the loop once every iteration has ended."""
        while loop.next_index < loop.count:
            i = loop.next_index
            reused = run.reused_iterations.get(str(i))
            if reused is not None:
                self._reuse_iteration(step, run, i, reused)
                continue
            if loop.in_flight >= loop.limit:
                break
            scope = {
                loop.iterator: loop.items[i],
                "index": i,
                "first": i == 0,
                "last": i == loop.count - 1,
            }
            self._issue(step, run, i, scope)
        if loop.finished >= loop.count:
            self._finish_loop(step, run, loop)

    def _reuse_iteration(
        self, step: StepDef, run: Run, index: int, done: Mapping[str, Any]
    ) -> None:
        payload = {
            "token": run.token,
            "epoch": run.epoch,
            "from_execution": self.s.retry_of,
            "result": done.get("result"),
            "set_ctx": dict(done.get("set_ctx") or {}),
        }
        key = f"step.reused|{step.name}|{run.token}|{index}"
        self._emit(ev.STEP_REUSED, step.name, payload, key, iteration=index)

    def _finish_loop(self, step: StepDef, run: Run, loop: LoopProgress) -> None:
        ok = loop.failed == 0
        stats = {"total": loop.count, "done": loop.count - loop.failed, "failed": loop.failed}
        payload: dict[str, Any] = {
            "token": run.token,
            "epoch": run.epoch,
            "status": "done" if ok else "failed",
            "results": list(loop.results),
            "stats": stats,
        }
        if loop.errors:
            payload["errors"] = sorted(loop.errors, key=lambda e: int(e["index"]))
        self._emit(ev.LOOP_DONE, step.name, payload, f"loop.done|{step.name}|{run.token}")
        error = None
        if not ok:
            message = f"{loop.failed} of {loop.count} iterations of step '{step.name}' failed"
            error = {"kind": "loop", "message": message, "errors": payload["errors"][:10]}
        self._route(run, "success" if ok else "error", ev.LOOP_DONE, error, {}, own_set_ctx=True)

    # -- worker and runtime outcomes ----------------------------------------------------------

    def _command_ended(self, command: Command, run: Run, event: Event) -> None:
        step = self.pb.step(command.step)
        if command.iteration is None or run.loop is None:
            status = "success" if event.type == ev.STEP_DONE else "error"
            error = event.payload.get("error")
            self._route(run, status, event.type, error, dict(event.payload.get("vars") or {}))
        else:
            self._fill(step, run, run.loop)

    def _command_lost(self, command: Command, run: Run, event: Event) -> None:
        """A command timed out or could not be delivered: the step run (or iteration) fails."""
        if event.type == ev.COMMAND_EXPIRED:
            message = f"step '{command.step}' timed out"
            if command.timeout is not None:
                message += f" after {command.timeout:g}s"
            error = {"kind": "timeout", "message": message, "retryable": True}
        else:
            message = f"command for step '{command.step}' could not be delivered to a worker"
            error = {"kind": "delivery", "message": message, "retryable": False}
        payload = {"token": command.token, "error": error, "vars": {}}
        self._emit(
            ev.STEP_FAILED,
            command.step,
            payload,
            f"step.end|{command.command_id}",
            iteration=command.iteration,
            command_id=command.command_id,
        )
        failed = self.events[-1]
        self._command_ended(command, run, failed)


def _whole_number(value: Any) -> int | None:
    """`value` as an int when it is one, or a string spelling one; else None."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None
