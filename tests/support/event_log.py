"""Checks of an execution's event log (as the API or `noetl events --json` gives it) that hold
whatever went wrong on the way: killed workers, restarted servers, replicas."""

from __future__ import annotations

from collections import Counter
from typing import Any


def assert_one_ending_per_step_run(execution_id: str, events: list[dict[str, Any]]) -> None:
    """Contiguous seqs, no fact twice, exactly one terminal event per issued command, and one
    `playbook.done`."""
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1)), execution_id
    keys = [e["idempotency_key"] for e in events]
    assert len(keys) == len(set(keys)), f"duplicate facts in {execution_id}"
    issued = Counter(e["command_id"] for e in events if e["type"] == "command.issued")
    ends = Counter(e["command_id"] for e in events if e["type"] in ("step.done", "step.failed"))
    assert ends == issued and set(issued.values()) == {1}, (execution_id, issued, ends)
    assert sum(1 for e in events if e["type"] == "playbook.done") == 1, execution_id
