"""What the control plane tells an observer: events written, routings made, batch timings.

`Observer` does nothing (and costs a method call): embedded runs use it. `noetl.observe.metrics`
turns the same calls into Prometheus metrics for a server.
"""

from __future__ import annotations

from collections.abc import Sequence

from noetl.engine.decision import Routing
from noetl.engine.definition import PlaybookDef
from noetl.engine.events import Event


class Observer:
    """The control plane's observer that observes nothing."""

    def written(self, playbook: PlaybookDef, events: Sequence[Event]) -> None:
        """Events of one execution of `playbook`, just appended to the log."""

    def routed(self, playbook: PlaybookDef, routing: Routing) -> None:
        """A finished step run of `playbook` was routed through its arcs."""

    def processed(self, received: float, decided: float, written: float, issued: float) -> None:
        """One batch of the pump: when its oldest event was received, and when the batch was
        decided, written and its commands issued (`time.perf_counter()` seconds)."""


def tool_kind(playbook: PlaybookDef, step: str) -> str:
    """The tool kind a step runs, as a bounded label: the kind of its one task, `pipeline` for
    several tasks, `none` for a routing-only step (or a step the playbook does not have)."""
    try:
        tasks = playbook.step(step).tasks
    except KeyError:
        return "none"
    if not tasks:
        return "none"
    return tasks[0].kind if len(tasks) == 1 else "pipeline"
