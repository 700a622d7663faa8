"""Where an execution is, step by step, folded from its event log (what the UI draws).

`Progress.catch_up` folds what the log holds; `Progress.to_dict` is the answer of
`GET /executions/{id}/steps`. Loop iterations are counted, never listed: the events that are
not an iteration's are read and folded one by one, the iterations' endings and failed
attempts are counted by the store (`EventStore.tally_iterations`: no iteration's payload is
decoded), so a 10,000-iteration loop folds into one band at the cost of a few queries. The
fold is incremental: the server keeps the progress of recently viewed executions and only
reads the events it has not seen (see `ProgressCache`).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from noetl.engine import events as ev
from noetl.engine.events import Event
from noetl.store.port import MAX_TALLIED_WORKERS, EventStore, IterationTally
from noetl.store.projection import catalog_entry

MAX_RUNS = 50  # runs kept per step (a step re-entered by a loop of arcs keeps its latest ones)
MAX_WORKERS = MAX_TALLIED_WORKERS  # named per run (a loop over a large pool names its first)
READ = 20_000  # events per read while folding
# The events the fold reads (none of a loop iteration's): commands issued and tasks done are
# most of a log and say nothing here, so they are not even decoded.
FOLDED = frozenset(
    {
        ev.PLAYBOOK_STARTED,
        ev.STEP_STARTED,
        ev.STEP_DONE,
        ev.STEP_FAILED,
        ev.STEP_SKIPPED,
        ev.LOOP_STARTED,
        ev.LOOP_DONE,
        ev.TASK_FAILED,
        ev.COMMAND_EXPIRED,
    }
    | ev.TERMINAL_PLAYBOOK
)
# The iterations' events the fold counts (the store counts them; only the latest failure of a
# stretch is read, for its error).
TALLIED = frozenset(
    {ev.STEP_DONE, ev.STEP_FAILED, ev.STEP_SKIPPED, ev.TASK_FAILED, ev.COMMAND_EXPIRED}
)
_ENDS = {ev.STEP_DONE: "done", ev.STEP_FAILED: "failed", ev.STEP_SKIPPED: "skipped"}


@dataclass
class Run:
    """One run of a step: when, how it ended, its loop counts and retried task attempts."""

    started_at: str | None
    state: str = "running"
    finished_at: str | None = None
    loop: dict[str, int] | None = None  # total, done, failed
    failed_attempts: int = 0  # failed task attempts (retried or not) and expired leases
    workers: list[str] = field(default_factory=list)  # who ran it (its iterations), first ones

    def ran_on(self, worker_id: Any) -> None:
        """Note the worker a step ending names (at most MAX_WORKERS of them)."""
        if worker_id and worker_id not in self.workers and len(self.workers) < MAX_WORKERS:
            self.workers.append(str(worker_id))

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {**self.__dict__, "workers": list(self.workers)}


@dataclass
class StepProgress:
    """A step's runs and where its panel finds the latest args and result (the seq of the
    events that carry them: values may be large, and the server keeps many of these)."""

    runs: list[Run] = field(default_factory=list)
    args_seq: int | None = None  # step.started of the latest run
    result_seq: int | None = None  # the latest step.done (not a loop iteration's)
    error: Any = None
    error_at: dict[str, Any] | None = None  # seq, iteration, time of the error shown

    def current(self, at: str | None) -> Run:
        """The run events without a step.started of their own belong to."""
        if not self.runs:
            self.runs.append(Run(at))
        return self.runs[-1]

    def to_dict(self) -> dict[str, Any]:
        """JSON form; `state` is the latest run's."""
        return {
            "state": self.runs[-1].state if self.runs else "pending",
            "runs": [run.to_dict() for run in self.runs],
            "run_count": len(self.runs),
            "args_seq": self.args_seq,
            "result_seq": self.result_seq,
            "error": self.error,
            "error_at": self.error_at,
        }


class Progress:
    """The fold of one execution's log."""

    def __init__(self) -> None:
        self.last_seq = 0  # the log is folded up to this seq
        self.counted_seq = 0  # iterations are counted up to this seq
        self.steps: dict[str, StepProgress] = {}
        self.playbook: dict[str, Any] = {}

    async def catch_up(self, store: EventStore, execution_id: str) -> None:
        """Fold what the log holds now beyond `last_seq`: the events that are not an
        iteration's one by one (a page at a time), the iterations counted by the store."""
        end = await store.last_seq(execution_id)
        while self.last_seq < end:
            page = await store.read(
                execution_id, after_seq=self.last_seq, limit=READ, types=FOLDED, iterations=False
            )
            upto = min(int(page[-1].seq or end), end) if len(page) == READ else end
            for event in page:
                if int(event.seq or 0) > upto:
                    break
                if self._ends_a_loop_run(event):  # its iterations so far belong to that run
                    await self._count(store, execution_id, int(event.seq or 0) - 1)
                self._apply(event)
            await self._count(store, execution_id, upto)
            self.last_seq = upto

    def _ends_a_loop_run(self, event: Event) -> bool:
        """Whether the iterations before `event` belong to a loop run it ends (loop.done) or
        replaces (the step starts again)."""
        if event.type == ev.LOOP_DONE:
            return True
        step = self.steps.get(event.step or "") if event.type == ev.STEP_STARTED else None
        return step is not None and bool(step.runs) and step.runs[-1].loop is not None

    async def _count(self, store: EventStore, execution_id: str, upto: int) -> None:
        """Count the iterations' endings and failed attempts up to `upto` into the steps'
        current runs; the error of the latest failed iteration is the one event read."""
        if upto <= self.counted_seq:
            return
        tallies = await store.tally_iterations(
            execution_id, after_seq=self.counted_seq, upto_seq=upto, types=TALLIED
        )
        self.counted_seq = upto
        for name, tally in tallies.items():
            step = self.steps.setdefault(name, StepProgress())
            _counted(step.current(None), tally)
            failed = tally.last_seq.get(ev.STEP_FAILED)
            if failed is not None and failed > int((step.error_at or {}).get("seq") or 0):
                for event in await store.read(execution_id, after_seq=failed - 1, limit=1):
                    _failed(step, event)

    def _apply(self, event: Event) -> None:
        """Fold one event that is not an iteration's (the next in seq order)."""
        if event.type == ev.PLAYBOOK_STARTED:
            self.playbook = _playbook_info(event.payload.get("playbook") or {})
        elif event.type in ev.TERMINAL_PLAYBOOK:
            self._stop_running(event.created_at)
        elif event.step is not None:
            self._step_event(self.steps.setdefault(event.step, StepProgress()), event)

    def _stop_running(self, at: str | None) -> None:
        """The execution ended: runs still going were stopped with it (cancel, or a failure
        elsewhere), so they are drawn as cancelled rather than as running forever."""
        for step in self.steps.values():
            for run in step.runs:
                if run.state == "running":
                    run.state, run.finished_at = "cancelled", at

    def _step_event(self, step: StepProgress, event: Event) -> None:
        kind, at, payload = event.type, event.created_at, event.payload
        if kind == ev.STEP_STARTED:
            step.runs.append(Run(at))
            del step.runs[:-MAX_RUNS]
            step.args_seq = event.seq
        elif kind == ev.LOOP_STARTED:
            total = int(payload.get("count") or 0)
            step.current(at).loop = {"total": total, "done": 0, "failed": 0}
        elif kind == ev.LOOP_DONE:
            run = step.current(at)
            run.state, run.finished_at = str(payload.get("status") or "done"), at
            if isinstance(payload.get("stats"), dict) and run.loop is not None:
                run.loop.update({k: int(payload["stats"].get(k, 0)) for k in run.loop})
        elif kind in _ENDS:
            self._ended(step, event)
        elif kind in (ev.TASK_FAILED, ev.COMMAND_EXPIRED):
            step.current(at).failed_attempts += 1

    @staticmethod
    def _ended(step: StepProgress, event: Event) -> None:
        run = step.current(event.created_at)
        run.ran_on(event.payload.get("worker_id"))
        state = _ENDS[event.type]
        if event.type == ev.STEP_FAILED:
            _failed(step, event)
        if state == "done":
            step.result_seq = event.seq
        run.state, run.finished_at = state, event.created_at

    def to_dict(self) -> dict[str, Any]:
        """The answer of `GET /executions/{id}/steps`."""
        return {
            "folded_seq": self.last_seq,
            "playbook": self.playbook,
            "steps": {name: step.to_dict() for name, step in self.steps.items()},
        }


def _counted(run: Run, tally: IterationTally) -> None:
    """A stretch of a run's iterations, counted: who ran them, how they ended (skipped ones
    count as failed), how many task attempts failed or expired."""
    for worker in tally.workers:
        run.ran_on(worker)
    counts = tally.counts
    run.failed_attempts += counts.get(ev.TASK_FAILED, 0) + counts.get(ev.COMMAND_EXPIRED, 0)
    if run.loop is not None:
        run.loop["done"] += counts.get(ev.STEP_DONE, 0)
        run.loop["failed"] += counts.get(ev.STEP_FAILED, 0) + counts.get(ev.STEP_SKIPPED, 0)


def _failed(step: StepProgress, event: Event) -> None:
    """The step's error is this step.failed's (the latest one, an iteration's or not)."""
    step.error = event.payload.get("error")
    step.error_at = {"seq": event.seq, "iteration": event.iteration, "at": event.created_at}


def _playbook_info(recorded: dict[str, Any]) -> dict[str, Any]:
    """What playbook.started says of the playbook, without its (large) source, and with the
    catalog entry it came from when it came from the catalog (`catalog: {path, version}`)."""
    info = {key: value for key, value in recorded.items() if key != "source"}
    entry = catalog_entry(info.get("file"))
    info["catalog"] = None if entry is None else {"path": entry[0], "version": entry[1]}
    return info


class ProgressCache:
    """The progress of the executions viewed lately, brought up to date on each look."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._kept: OrderedDict[str, Progress] = OrderedDict()
        self._folding = asyncio.Lock()  # two requests must not fold the same events twice

    async def get(self, store: EventStore, execution_id: str) -> Progress:
        """`execution_id`'s progress including every event now in `store`."""
        async with self._folding:
            return await self._bring_up(store, execution_id)

    async def _bring_up(self, store: EventStore, execution_id: str) -> Progress:
        progress = self._kept.pop(execution_id, None) or Progress()
        self._kept[execution_id] = progress
        while len(self._kept) > self.size:
            self._kept.popitem(last=False)
        await progress.catch_up(store, execution_id)
        return progress
