"""Worker-facing routes: claim a command, report a batch of events.

Workers have no database access: they claim through the server (atomic in the control plane,
one winner per delivery) and post what happened; the log drops duplicates by idempotency key,
so a batch posted twice (a retry after a lost response) is stored once. A report may ask for the
next commands of its executions (`take`): they come back claimed in its answer, on a lease the
worker renews while it runs them.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response

from noetl.bus.port import Pointer
from noetl.engine.events import Event
from noetl.errors import EventCodecError
from noetl.server.routes import MetricsDep, RuntimeDep, json_response
from noetl.server.schemas import (
    Accepted,
    BatchClaimRequest,
    Claimed,
    ClaimRequest,
    EventBatch,
    RenewRequest,
)
from noetl.worker.source import WorkItem

router = APIRouter(tags=["workers"])

_WORKER_ORIGINS = frozenset({"worker", "runtime"})  # engine and client events are the server's


@router.post("/events", response_model=Accepted)
async def post_events(body: EventBatch, runtime: RuntimeDep, metrics: MetricsDep) -> Response:
    """Validate every event first (nothing is handed on when one is bad), then decide them;
    answered once they are written, with the commands handed to the reporter."""
    decoded = [_decode(i, raw) for i, raw in enumerate(body.events)]
    for execution_id in {e.execution_id for e in decoded}:
        if not runtime.control.holds(execution_id):
            await runtime.store.get_execution(execution_id)  # unknown execution -> 404
    handed = await runtime.control.report(decoded, pool=body.pool, take=body.take)
    if handed:
        metrics.claims.labels("handed").inc(len(handed))
    return json_response({"accepted": len(decoded), "handed": [_claimed(i) for i in handed]})


@router.post("/commands/renew", status_code=204)
async def renew(body: RenewRequest, runtime: RuntimeDep) -> Response:
    """Keep the leases of handed-off commands a worker is still running."""
    await runtime.control.renew([(h.execution_id, h.command_id) for h in body.held])
    return Response(status_code=204)


@router.post("/commands/claim")
async def claim_many(
    body: BatchClaimRequest, request: Request, runtime: RuntimeDep, metrics: MetricsDep
) -> Response:
    """Several claims at once: `{"claimed": [{command, scope} | null, ...]}` in request order."""
    answers: list[dict[str, Any] | None] = []
    async with request.app.state.claiming:
        for one in body.claims:
            pointer = Pointer(one.execution_id, one.command_id, one.step)
            item = await runtime.control.claim(pointer, one.attempt)
            metrics.claimed(None if item is None else item.command, one.attempt)
            answers.append(None if item is None else _claimed(item))
    return json_response({"claimed": answers})


@router.post("/commands/{command_id}/claim", response_model=Claimed)
async def claim(
    command_id: str,
    body: ClaimRequest,
    request: Request,
    runtime: RuntimeDep,
    metrics: MetricsDep,
) -> Response:
    """The command and its scope to the one claimant that wins; 409 to everyone else."""
    pointer = Pointer(body.execution_id, command_id, body.step)
    # The control plane decides claims in memory; the lock keeps two claims of an execution
    # that is still being loaded from the log from both loading it and both winning.
    async with request.app.state.claiming:
        item = await runtime.control.claim(pointer, body.attempt)
    metrics.claimed(None if item is None else item.command, body.attempt)
    if item is None:
        raise HTTPException(
            409, f"command {command_id} is finished, claimed by another worker, or unknown"
        )
    return json_response(_claimed(item))


def _claimed(item: WorkItem) -> dict[str, Any]:
    """A won claim: the command, its scope, the digest of its playbook's source, and the lease
    of a handed-off command."""
    claimed: dict[str, Any] = {
        "command": item.command.to_dict(),
        "scope": item.scope,
        "playbook": item.digest,
    }
    if item.lease is not None:
        claimed["lease"] = item.lease
    if item.trace:
        claimed["trace"] = item.trace
    return claimed


def _decode(index: int, raw: dict[str, Any]) -> Event:
    where = f"events[{index}]"
    try:
        event = Event.from_dict(raw)
    except (EventCodecError, TypeError, ValueError) as exc:
        raise EventCodecError(f"{where}: {exc}") from None
    if not isinstance(raw.get("execution_id"), str) or not event.execution_id:
        raise EventCodecError(f"{where}.execution_id: must be a non-empty string")
    if event.origin not in _WORKER_ORIGINS:
        raise EventCodecError(
            f"{where}.origin: must be 'worker' or 'runtime', not {event.origin!r}"
        )
    # The log stamps seq and id; whatever the client sent for them is not trusted. The time is
    # the worker's (when the attempt happened), kept when it is a well-formed one.
    return replace(event, seq=None, event_id=None, created_at=_happened(raw, where))


def _happened(raw: dict[str, Any], where: str) -> str | None:
    """The event's own time as UTC ISO-8601 with microseconds, None when it gives none."""
    given = raw.get("created_at")
    if given is None:
        return None
    try:
        moment = datetime.fromisoformat(given) if isinstance(given, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise EventCodecError(f"{where}.created_at: must be an ISO-8601 time with a UTC offset")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")
