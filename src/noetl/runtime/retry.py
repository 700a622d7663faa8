"""Retry from failure: a new execution of the same (or a newer) playbook that takes the results
of the step runs the failed execution finished and runs the rest.

This module reads the earlier execution's log and decides which steps may not be reused; the
engine (`noetl.engine.reuse`, `decide`) does the reusing. Rules:

- Only an execution that ended can be retried: `failed` or `cancelled`, or `done` with
  `from_step` (`--resume` is for executions whose process died while they ran).
- The playbook is the one the execution ran (its source is in the log), or a given one with the
  same catalog path (or, without paths, the same name): a newer version, say.
- Steps are matched by name. A step whose definition differs between the two playbooks runs
  again, as does one that calls a workbook task when the workbook changed, `from_step`, and
  every step run that a re-run step leads to.
- The payload is the earlier execution's request payload with `overrides` deep-merged over it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from noetl.dsl.load import load_playbook
from noetl.engine.definition import PlaybookDef
from noetl.engine.events import Event
from noetl.engine.reuse import PLAN_EVENTS, Plan, PlanReader
from noetl.engine.routing import deep_merge
from noetl.errors import ConfigError, ConflictError, NoetlError
from noetl.runtime.live import log_pages
from noetl.store.port import EventStore

RETRYABLE = frozenset({"failed", "cancelled"})


@dataclass(frozen=True)
class RetryJob:
    """What to start: playbook, source, payload and the `retry` of `playbook.started`."""

    playbook: PlaybookDef
    source: str
    payload: dict[str, Any]
    retry: dict[str, Any] = field(default_factory=dict)


async def prepare_retry(
    store: EventStore,
    execution_id: str,
    *,
    from_step: str | None = None,
    source: str | None = None,
    file: str | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> RetryJob:
    """The retry of `execution_id`, on the playbook `source` when given (else the same one)."""
    summary = await store.get_execution(execution_id)  # NotFoundError names the execution
    if summary.status not in RETRYABLE and not (summary.status == "done" and from_step):
        hint = "cancel it first" if summary.status == "running" else "give --from STEP"
        raise ConflictError(
            f"execution {execution_id} is {summary.status}: only a failed or cancelled "
            f"execution can be retried ({hint})"
        )
    first = await store.read(execution_id, limit=1)  # playbook.started: source and payload
    old_source, old_file = _recorded_source(execution_id, first)
    old = load_playbook(old_source, file=old_file)
    new = old if source is None else load_playbook(source, file=file)
    _check_same_playbook(execution_id, old, new)
    if from_step is not None and from_step not in new.by_name:
        raise ConfigError(
            f"--from: playbook {new.path or new.name!r} has no step {from_step!r} "
            f"(steps: {', '.join(new.by_name)})"
        )
    rerun = changed_steps(old, new) | ({from_step} if from_step else set())
    payload = deep_merge(dict(first[0].payload.get("payload") or {}), overrides or {})
    retry = {"of": execution_id, "steps": await _reuse_plan(store, execution_id, rerun)}
    if from_step is not None:
        retry["from_step"] = from_step
    return RetryJob(new, source if source is not None else old_source, payload, retry)


async def _reuse_plan(store: EventStore, execution_id: str, rerun: set[str]) -> Plan:
    """The reuse plan of the earlier log, read in pages of the events it is built from only
    (a long log's task, claim and log events are never loaded)."""
    reader = PlanReader()
    async for page in log_pages(store, execution_id, types=PLAN_EVENTS):
        for event in page:
            reader.read(event)
    return reader.plan(rerun=rerun)


def changed_steps(old: PlaybookDef, new: PlaybookDef) -> set[str]:
    """Names of the steps of `new` that must run again because their definition changed."""
    workbook_changed = dict(old.workbook) != dict(new.workbook)
    changed = set()
    for step in new.steps:
        before = old.by_name.get(step.name)
        calls_workbook = any(task.kind == "workbook" for task in step.tasks)
        if before != step or (workbook_changed and calls_workbook):
            changed.add(step.name)
    return changed


def _recorded_source(execution_id: str, log: Sequence[Event]) -> tuple[str, str | None]:
    described = log[0].payload.get("playbook", {}) if log else {}
    if described.get("source") is None:
        raise NoetlError(f"execution {execution_id} did not record its playbook source")
    return str(described["source"]), described.get("file")


def _check_same_playbook(execution_id: str, old: PlaybookDef, new: PlaybookDef) -> None:
    same = old.path == new.path if old.path or new.path else old.name == new.name
    if not same:
        raise ConfigError(
            f"execution {execution_id} ran playbook {old.path or old.name!r}; a retry runs "
            f"that playbook (another version of it), not {new.path or new.name!r}"
        )
