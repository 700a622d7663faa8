"""The execution projection: how a batch of stamped events changes an `ExecutionSummary`.

Adapters fold each appended batch into one `ExecutionChange` and apply it in the same
transaction as the events (the memory adapter in Python, SQL adapters with one INSERT for
`playbook.started` and one UPDATE per execution). Rules:

- `playbook.started` creates the execution (status running); its payload carries
  `playbook: {name, path, file}` (`file` is `catalog:PATH@vN` for a catalog entry: the version
  it ran) and optionally `parent_execution_id`.
- `step.done` / `step.failed` / `step.reused` outside a loop iteration and `loop.done` count as
  steps (iterations are not steps; a reused step counts as done); every `step.skipped` counts.
- `playbook.done|failed|cancelled` end it. The first terminal event wins: a late event cannot
  turn a finished execution into another outcome.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from noetl.engine import events as ev
from noetl.engine.events import Event
from noetl.store.port import CANCELLED, DONE, FAILED, RUNNING, ExecutionSummary


@dataclass(frozen=True)
class Started:
    """What `playbook.started` tells about a new execution."""

    playbook_name: str
    playbook_path: str
    parent_execution_id: str | None
    started_at: str
    playbook_version: int | None = None


@dataclass(frozen=True)
class Terminal:
    """How an execution ended."""

    status: str
    finished_at: str
    result: Any
    error: Any


@dataclass
class ExecutionChange:
    """The net effect of one appended batch on one execution's projection."""

    execution_id: str
    last_seq: int
    started: Started | None = None
    steps_done: int = 0
    steps_failed: int = 0
    steps_skipped: int = 0
    terminal: Terminal | None = None

    @property
    def touches_summary(self) -> bool:
        """Whether the change alters any stored column (`last_seq` is read from the log)."""
        counted = self.steps_done or self.steps_failed or self.steps_skipped
        return bool(counted) or self.terminal is not None


_STEP_ENDS_DONE = frozenset({ev.STEP_DONE, ev.LOOP_DONE, ev.STEP_REUSED})


def fold(execution_id: str, last_seq: int, stamped: Sequence[Event]) -> ExecutionChange:
    """Fold the stamped events of one append into the change they make to the projection."""
    change = ExecutionChange(execution_id=execution_id, last_seq=last_seq)
    for event in stamped:
        kind = event.type
        if kind == ev.PLAYBOOK_STARTED:
            change.started = _started(event)
        elif kind in _STEP_ENDS_DONE and event.iteration is None:
            change.steps_done += 1
        elif kind == ev.STEP_FAILED and event.iteration is None:
            change.steps_failed += 1
        elif kind == ev.STEP_SKIPPED:
            change.steps_skipped += 1
        elif kind in ev.TERMINAL_PLAYBOOK and change.terminal is None:
            change.terminal = _terminal(event)
    return change


_CATALOG_FILE = re.compile(r"catalog:(.+)@v(\d+)")  # see noetl.dsl.locate.catalog_file


def catalog_entry(file: object) -> tuple[str, int] | None:
    """The (path, version) of a playbook `file` that names a catalog entry, else None."""
    found = _CATALOG_FILE.fullmatch(str(file or ""))
    return None if found is None else (found[1], int(found[2]))


def _started(event: Event) -> Started:
    playbook = event.payload.get("playbook") or {}
    parent = event.payload.get("parent_execution_id")
    entry = catalog_entry(playbook.get("file"))
    return Started(
        playbook_name=str(playbook.get("name") or ""),
        playbook_path=str(playbook.get("path") or ""),
        parent_execution_id=None if parent is None else str(parent),
        started_at=event.created_at or "",
        playbook_version=None if entry is None else entry[1],
    )


def _terminal(event: Event) -> Terminal:
    finished_at = event.created_at or ""
    if event.type == ev.PLAYBOOK_DONE:
        return Terminal(DONE, finished_at, event.payload.get("result"), None)
    if event.type == ev.PLAYBOOK_FAILED:
        return Terminal(FAILED, finished_at, None, event.payload.get("error"))
    return Terminal(CANCELLED, finished_at, None, dict(event.payload))


def apply(summary: ExecutionSummary | None, change: ExecutionChange) -> ExecutionSummary | None:
    """The projection after `change`; None while the execution has not been started."""
    if summary is None and change.started is not None:
        started = change.started
        summary = ExecutionSummary(
            execution_id=change.execution_id,
            playbook_name=started.playbook_name,
            playbook_path=started.playbook_path,
            status=RUNNING,
            started_at=started.started_at,
            finished_at=None,
            steps_done=0,
            steps_failed=0,
            steps_skipped=0,
            result=None,
            error=None,
            parent_execution_id=started.parent_execution_id,
            last_seq=0,
            playbook_version=started.playbook_version,
        )
    if summary is None:
        return None
    summary = replace(
        summary,
        steps_done=summary.steps_done + change.steps_done,
        steps_failed=summary.steps_failed + change.steps_failed,
        steps_skipped=summary.steps_skipped + change.steps_skipped,
        last_seq=change.last_seq,
    )
    end = change.terminal
    if end is not None and summary.status == RUNNING:
        summary = replace(
            summary,
            status=end.status,
            finished_at=end.finished_at,
            result=end.result,
            error=end.error,
        )
    return summary
