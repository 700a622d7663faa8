"""/prune: remove finished executions (what `noetl prune --server` calls)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from noetl.config import parse_duration
from noetl.runtime.retention import prune, statuses_of
from noetl.server.routes import RuntimeDep, json_response
from noetl.server.schemas import PruneIn

router = APIRouter(tags=["retention"])


@router.post("/prune")
async def prune_executions(body: PruneIn, runtime: RuntimeDep) -> Response:
    """Remove (or, with `dry_run`, count) the executions of `status` that ended more than
    `older_than` ago (`30d`, `12h`...), with their events, claims and stored results. Running
    executions and parents of running children are never removed."""
    report = await prune(
        runtime.retention,
        older_than=parse_duration(body.older_than, "older_than"),  # ConfigError -> 400
        statuses=statuses_of(body.status),
        dry_run=body.dry_run,
    )
    return json_response(report.to_dict(dry_run=body.dry_run))
