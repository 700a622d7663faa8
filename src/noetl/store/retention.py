"""The retention port: remove finished executions older than a cutoff, with everything that
belongs to them (events, the execution row, claims, stored results), in batches.

Rules every adapter keeps (`tests/contract/test_retention.py`): only executions that ended
(`done`, `failed`, `cancelled`, as asked) before the cutoff; never one with a running child;
events go in chunks of at most `chunk` rows per statement (each its own transaction), so
appends to running executions never wait behind one long delete; an execution's own row goes
last, so a prune that stops half-way leaves nothing unfindable and the next one finishes it.
A dry run counts what would go and removes nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from typing import Protocol

FINISHED = ("done", "failed", "cancelled")


@dataclass
class PruneReport:
    """What a prune removed (or, dry, would remove)."""

    executions: int = 0
    events: int = 0
    claims: int = 0
    results: int = 0
    execution_ids: list[str] = field(default_factory=list)

    def to_dict(self, *, dry_run: bool) -> dict[str, object]:
        """Counts (not the ids) and whether anything was removed."""
        return {
            "dry_run": dry_run,
            "executions": self.executions,
            "events": self.events,
            "claims": self.claims,
            "results": self.results,
        }


class Retention(Protocol):
    """Removes finished executions."""

    async def prune(
        self,
        *,
        finished_before: str,
        statuses: Collection[str] = FINISHED,
        dry_run: bool = False,
        batch: int = 200,
        chunk: int = 5000,
    ) -> PruneReport:
        """Remove (or count) finished executions that ended before `finished_before` (UTC ISO
        8601), `batch` executions and at most `chunk` events per statement at a time."""
        ...

    async def close(self) -> None:
        """Release resources. Idempotent."""
        ...


async def prune_in_batches(
    candidates: Callable[[int], Awaitable[list[str]]],
    count: Callable[[str, list[str]], Awaitable[int]],
    remove: Callable[[list[str], PruneReport], Awaitable[None]],
    *,
    dry_run: bool,
    batch: int,
) -> PruneReport:
    """The batches of a prune, for the adapters: `candidates(n)` names up to `n` finished
    executions to prune; each batch of them is removed (`remove` adds what went to the report)
    or, dry, counted (`count(query, ids)` per `prune_count_*` query of the adapter's)."""
    report = PruneReport()
    seen: set[str] = set()
    while True:
        ids = [i for i in await candidates(batch + len(seen)) if i not in seen]
        if not ids:
            return report
        if dry_run:
            seen.update(ids)  # nothing is removed: page past what was counted
            report.events += await count("prune_count_events", ids)
            report.claims += await count("prune_count_claims", ids)
            report.results += await count("prune_count_results", ids)
        else:
            await remove(ids, report)
        report.executions += len(ids)
        report.execution_ids.extend(ids)
