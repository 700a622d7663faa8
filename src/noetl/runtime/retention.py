"""Retention: `noetl prune` and a server's automatic pruning (`NOETL_PRUNE_AFTER`).

The store removes the executions' rows (see `noetl.store.retention`); the embedded mode's large
results are files under `<home>/results/<execution>/`, removed here for the executions pruned.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from pathlib import Path

from noetl.config import parse_duration
from noetl.errors import ConfigError, NoetlError
from noetl.store.retention import FINISHED, PruneReport, Retention

log = logging.getLogger(__name__)
EVERY = 3600.0  # seconds between a server's automatic prunes


def statuses_of(status: str) -> tuple[str, ...]:
    """`done|failed|cancelled|all` -> the statuses to prune; ConfigError otherwise."""
    if status == "all":
        return FINISHED
    if status not in FINISHED:
        raise ConfigError(f"--status {status!r}: one of {', '.join(FINISHED)} or all")
    return (status,)


async def prune(
    retention: Retention,
    *,
    older_than: float,
    statuses: Collection[str] = FINISHED,
    dry_run: bool = False,
    results_root: Path | None = None,
    now: datetime | None = None,
) -> PruneReport:
    """Remove (or count) executions that ended more than `older_than` seconds before `now`."""
    cutoff = (now or datetime.now(UTC)) - timedelta(seconds=older_than)
    report = await retention.prune(
        finished_before=cutoff.isoformat(timespec="microseconds"),
        statuses=statuses,
        dry_run=dry_run,
    )
    if results_root is not None and not dry_run:
        for execution_id in report.execution_ids:
            shutil.rmtree(results_root / execution_id, ignore_errors=True)
    return report


async def prune_forever(retention: Retention, older_than: float, every: float = EVERY) -> None:
    """A server's automatic pruning: every `every` seconds, until cancelled."""
    while True:
        try:
            report = await prune(retention, older_than=older_than)
            if report.executions:
                log.info("pruned %s", report.to_dict(dry_run=False))
        except NoetlError as exc:
            log.warning("automatic prune failed: %s", exc)
        await asyncio.sleep(every)


def start_pruner(retention: Retention, prune_after: str) -> asyncio.Task[None]:
    """A server's automatic pruning of what ended longer than `prune_after` ago (`30d`, from
    `NOETL_PRUNE_AFTER`), as a task on the running loop."""
    older_than = parse_duration(prune_after, "NOETL_PRUNE_AFTER")
    return asyncio.get_running_loop().create_task(prune_forever(retention, older_than))
