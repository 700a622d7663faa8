"""Prometheus metrics of one server (its own registry, so several apps can live in one process).

Every family is named `noetl_*` and its labels are bounded: pools, tool kinds, error kinds,
statuses, playbook and step names, worker ids; never execution or command ids. What the control
plane counts per event is kept as plain numbers (`noetl.observe.tally`), the rest (claims,
heartbeats, HTTP latency, gauges) in `prometheus_client` objects. What each one
means is in docs/operations.md ("Observing NoETL"). Most are counted from the events the
control plane writes (`written`); gauges of the present (queue depth, running executions, the
bus's backlog) are read when `/metrics` is scraped (`refresh`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from noetl.bus.port import Backlog
from noetl.engine import events as ev
from noetl.engine.commands import Command
from noetl.engine.decision import Routing
from noetl.engine.definition import PlaybookDef
from noetl.engine.events import Event
from noetl.observe.hooks import Observer, tool_kind
from noetl.observe.tally import Tally, TallyCollector, TallyHistogram
from noetl.store.workers import WorkerBeat

log = logging.getLogger(__name__)
# Seconds: from a millisecond-long decision to a step that runs for minutes.
_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_STEP_BUCKETS = (0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 1800.0, 7200.0)


class Metrics(Observer):
    """The server's metrics; the control plane's observer."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._worker_pools: dict[str, str] = {}
        self._last_failure: dict[str, str] = {}  # command id -> error kind of its last attempt
        # What the control plane counts per event: plain numbers (see noetl.observe.tally).
        self._tallies: list[Tally | TallyHistogram] = []
        self._define_executions()
        self._define_commands()
        self._define_tasks()
        self._define_workers()
        self.registry.register(TallyCollector(self._tallies))
        self.latency = self._histogram(
            "noetl_request_seconds", "HTTP request latency by method and route.", "method", "route"
        )

    # -- definitions ----------------------------------------------------------------------------

    def _define_executions(self) -> None:
        self.started = self._tally("noetl_executions_started", "Executions started.")
        self.finished = self._tally(
            "noetl_executions_finished", "Executions that ended, by final status.", "status"
        )
        self.running = self._gauge(
            "noetl_executions_running", "Executions this server is running now."
        )
        self.events = self._tally("noetl_events_appended", "Events written to the log.")
        self.processing = self._tally_histogram(
            "noetl_event_processing_seconds",
            "From an event received to its batch decided, written and its commands issued.",
            ["stage"],
            _LATENCY_BUCKETS,
        )
        self.arcs_evaluated = self._tally(
            "noetl_arcs_evaluated", "Arc guards evaluated when routing a step.", "playbook", "step"
        )
        self.arcs_taken = self._tally(
            "noetl_arcs_taken", "Arcs that fired when routing a step.", "playbook", "step"
        )
        self.step_duration = self._tally_histogram(
            "noetl_step_duration_seconds",
            "How long step runs (one loop iteration each) took on their worker.",
            ["playbook", "tool_kind"],
            _STEP_BUCKETS,
        )

    def _define_commands(self) -> None:
        self.issued = self._tally(
            "noetl_commands_issued", "Commands issued, by pool and tool kind.", "pool", "tool_kind"
        )
        self.queue_depth = self._gauge(
            "noetl_queue_depth", "Commands issued and not yet claimed, by pool.", "pool"
        )
        self.claims = self._counter(
            "noetl_claims",
            "Command claims, by outcome (won|refused|handed: given with a report).",
            "outcome",
        )
        self.redeliveries = self._counter(
            "noetl_redeliveries", "Claims won by a redelivery (attempt > 1), by pool.", "pool"
        )
        self.dead_letters = self._tally(
            "noetl_dead_letters", "Commands the bus gave up delivering (command.dead)."
        )
        self.bus_pending = self._gauge(
            "noetl_bus_pending", "Pointers on the bus waiting for a worker, by pool.", "pool"
        )
        self.bus_ack_pending = self._gauge(
            "noetl_bus_ack_pending", "Pointers delivered and not yet acked, by pool.", "pool"
        )

    def _define_tasks(self) -> None:
        self.attempts = self._tally(
            "noetl_task_attempts", "Task attempts, by tool kind and status.", "tool_kind", "status"
        )
        self.retries = self._tally(
            "noetl_task_retries",
            "Task attempts that retried a failed one, by tool kind and the error retried.",
            "tool_kind",
            "error_kind",
        )
        self.failures = self._tally(
            "noetl_task_failures",
            "Task attempts that failed, by tool kind and error kind.",
            "tool_kind",
            "error_kind",
        )

    def _define_workers(self) -> None:
        self.worker_slots = self._gauge(
            "noetl_worker_slots", "Command slots of a worker (heartbeats).", "worker_id", "pool"
        )
        self.worker_busy = self._gauge(
            "noetl_worker_busy_slots",
            "Slots of a worker running a command (heartbeats).",
            "worker_id",
            "pool",
        )

    def _tally(self, name: str, doc: str, *labels: str) -> Tally:
        tally = Tally(name, doc, labels)
        self._tallies.append(tally)
        return tally

    def _tally_histogram(
        self, name: str, doc: str, labels: list[str], buckets: tuple[float, ...]
    ) -> TallyHistogram:
        tally = TallyHistogram(name, doc, labels, buckets)
        self._tallies.append(tally)
        return tally

    def _counter(self, name: str, doc: str, *labels: str) -> Counter:
        return Counter(name, doc, labels, registry=self.registry)

    def _gauge(self, name: str, doc: str, *labels: str) -> Gauge:
        return Gauge(name, doc, labels, registry=self.registry)

    def _histogram(self, name: str, doc: str, *labels: str) -> Histogram:
        return Histogram(name, doc, labels, registry=self.registry)

    # -- the control plane's observer -------------------------------------------------------------

    def written(self, playbook: PlaybookDef, events: Sequence[Event]) -> None:
        """Count what the written events tell."""
        self.events.add((), len(events))
        for event in events:
            kind = event.type
            if kind in (ev.TASK_DONE, ev.TASK_FAILED):
                self._task(event)
            elif kind in (ev.STEP_DONE, ev.STEP_FAILED):
                self._step_ended(playbook, event)
            elif kind == ev.COMMAND_ISSUED:
                pool = str(event.payload.get("command", {}).get("pool", "default"))
                self.issued.add((pool, tool_kind(playbook, event.step or "")))
            elif kind == ev.PLAYBOOK_STARTED:
                self.started.add()
            elif kind in ev.TERMINAL_PLAYBOOK:
                self.finished.add((kind.removeprefix("playbook."),))
            elif kind == ev.COMMAND_DEAD:
                self.dead_letters.add()

    def _task(self, event: Event) -> None:
        payload = event.payload
        kind = str(payload.get("kind") or "unknown")
        attempt = int(payload.get("attempt") or 1)
        command_id = event.command_id or ""
        if attempt > 1:
            retried = self._last_failure.pop(command_id, "unknown")
            self.retries.add((kind, retried))
        if event.type == ev.TASK_DONE:
            self.attempts.add((kind, "success"))
            return
        self.attempts.add((kind, "error"))
        error = payload.get("error")
        error_kind = (
            str(error.get("kind") or "unknown") if isinstance(error, Mapping) else "unknown"
        )
        self.failures.add((kind, error_kind))
        self._last_failure[command_id] = error_kind

    def _step_ended(self, playbook: PlaybookDef, event: Event) -> None:
        if event.command_id is not None:
            self._last_failure.pop(event.command_id, None)
        duration = event.payload.get("duration_ms")
        if isinstance(duration, (int, float)):
            kind = tool_kind(playbook, event.step or "")
            self.step_duration.observe((playbook.name, kind), duration / 1000.0)

    def routed(self, playbook: PlaybookDef, routing: Routing) -> None:
        """Arcs evaluated and taken: their ratio is the step's arc match rate."""
        self.arcs_evaluated.add((playbook.name, routing.step), routing.evaluated)
        if routing.taken:
            self.arcs_taken.add((playbook.name, routing.step), routing.taken)

    def processed(self, received: float, decided: float, written: float, issued: float) -> None:
        """Event processing latency of one batch, at each stage."""
        self.processing.observe(("decided",), decided - received)
        self.processing.observe(("written",), written - received)
        self.processing.observe(("issued",), issued - received)

    # -- workers, claims, scrape-time gauges ------------------------------------------------------

    def claimed(self, command: Command | None, attempt: int) -> None:
        """A claim through the API: won (the command) or refused (None); a won redelivery
        counts as one."""
        self.claims.labels("refused" if command is None else "won").inc()
        if command is not None and attempt > 1:
            self.redeliveries.labels(command.pool).inc()

    def observe_beat(self, beat: WorkerBeat) -> None:
        """A worker's heartbeat: its slots and busy slots."""
        self._worker_pools[beat.worker_id] = beat.pool
        self.worker_slots.labels(beat.worker_id, beat.pool).set(beat.slots)
        self.worker_busy.labels(beat.worker_id, beat.pool).set(beat.busy)

    def forget_worker(self, worker_id: str) -> None:
        """A worker left: its gauges go."""
        pool = self._worker_pools.pop(worker_id, None)
        if pool is not None:
            self.worker_slots.remove(worker_id, pool)
            self.worker_busy.remove(worker_id, pool)

    def refresh(
        self, queue_depth: Mapping[str, int], running: int, backlog: Mapping[str, Backlog]
    ) -> None:
        """Set the gauges of the present, read just before a scrape."""
        self.queue_depth.clear()
        for pool, depth in queue_depth.items():
            self.queue_depth.labels(pool).set(depth)
        self.running.set(running)
        for pool, found in backlog.items():
            self.bus_pending.labels(pool).set(found.pending)
            self.bus_ack_pending.labels(pool).set(found.ack_pending)

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)
