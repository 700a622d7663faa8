"""Prometheus metrics of one server (its own registry, so several apps can live in one process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from noetl.engine import events as ev
from noetl.engine.events import Event


class Metrics:
    """Counters of executions, events and claims, and request latency per route."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.started = Counter(
            "noetl_executions_started", "Executions started.", registry=self.registry
        )
        self.finished = Counter(
            "noetl_executions_finished",
            "Executions that ended, by final status.",
            ["status"],
            registry=self.registry,
        )
        self.events = Counter(
            "noetl_events_appended", "Events written to the log.", registry=self.registry
        )
        self.claims = Counter(
            "noetl_claims",
            "Command claims, by outcome (won|refused|handed: given with a report).",
            ["outcome"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "noetl_request_seconds",
            "HTTP request latency by method and route.",
            ["method", "route"],
            registry=self.registry,
        )

    def observe_event(self, event: Event) -> None:
        """Count one event written to the log (a control-plane listener)."""
        self.events.inc()
        if event.type == ev.PLAYBOOK_STARTED:
            self.started.inc()
        elif event.type in ev.TERMINAL_PLAYBOOK:
            self.finished.labels(event.type.removeprefix("playbook.")).inc()

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)
