"""Worker-facing routes: claim a command, report a batch of events, renew leases.

Workers have no database access: they claim through the server (atomic in the control plane,
one winner per delivery) and post what happened; the log drops duplicates by idempotency key,
so a batch posted twice (a retry after a lost response) is stored once. A report may ask for the
next commands of its executions (`take`): they come back claimed in its answer, on a lease the
worker renews while it runs them. Every step calls these, so they are served on the lean lane
(`noetl.server.lane`), not through FastAPI; they are documented in the OpenAPI schema alike.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from fastapi import Response

from noetl.bus.port import Pointer
from noetl.engine.events import (
    SCHEMA_VERSION,
    STEP_DONE,
    STEP_FAILED,
    WORKER_EVENT_TYPES,
    Event,
)
from noetl.errors import ConflictError, EventCodecError
from noetl.server.lane import LaneCall, LaneRoute
from noetl.server.routes import json_response
from noetl.server.schemas import (
    Accepted,
    BatchClaimRequest,
    Claimed,
    ClaimRequest,
    EventBatch,
    RenewRequest,
)
from noetl.worker.source import WorkItem


async def post_events(call: LaneCall) -> Response:
    """Report what happened on held commands (and take the next ones). Every event is
    validated first (nothing is handed on when one is bad), then decided; answered once they
    are written, with the commands handed to the reporter."""
    body: EventBatch = call.body
    decoded = [_decode(i, raw) for i, raw in enumerate(body.events)]
    tokens: dict[str, str] = {}
    for index, (event, token) in enumerate(decoded):
        if tokens.setdefault(event.command_id or "", token) != token:
            raise EventCodecError(f"events[{index}].claim_token: differs for one command")
    events = [event for event, _ in decoded]
    runtime = call.runtime
    for execution_id in {e.execution_id for e in events}:
        if not runtime.control.holds(execution_id):
            await runtime.store.get_execution(execution_id)  # unknown execution -> 404
    handed = await runtime.control.report_held(
        events, tokens, worker_id=body.worker_id, pool=body.pool, take=body.take
    )
    if handed:
        call.metrics.claims.labels("handed").inc(len(handed))
    return json_response({"accepted": len(events), "handed": [_claimed(i) for i in handed]})


async def renew(call: LaneCall) -> Response:
    """Keep the leases of commands a worker holds and is still running: 409 naming `held[i]`
    when its claim token does not hold it (finished, taken over, or a wrong token), and then
    no lease is extended."""
    body: RenewRequest = call.body
    held = [(h.execution_id, h.command_id, h.claim_token) for h in body.held]
    await call.runtime.control.renew(held)
    return Response(status_code=204)


async def claim_many(call: LaneCall) -> Response:
    """Claim several commands at once: `{"claimed": [{command, scope} | null, ...]}` in
    request order."""
    body: BatchClaimRequest = call.body
    wanted = [(Pointer(c.execution_id, c.command_id, c.step), c.attempt) for c in body.claims]
    items = await call.runtime.control.leases.claim_many(wanted, body.claims[0].worker or None)
    answers: list[dict[str, Any] | None] = []
    for item, (_, attempt) in zip(items, wanted, strict=True):
        call.metrics.claimed(None if item is None else item.command, attempt)
        answers.append(None if item is None else _claimed(item))
    return json_response({"claimed": answers})


async def claim(call: LaneCall) -> Response:
    """Claim one command: the command and its scope to the one claimant that wins; 409 to
    everyone else."""
    body: ClaimRequest = call.body
    command_id = call.params["command_id"]
    pointer = Pointer(body.execution_id, command_id, body.step)
    item = await call.runtime.control.claim(pointer, body.attempt, body.worker or None)
    call.metrics.claimed(None if item is None else item.command, body.attempt)
    if item is None:
        raise ConflictError(
            f"command {command_id} may not be claimed: it is finished or unknown, held by a "
            "worker whose lease has not run out, or this attempt is not one the bus delivered",
        )
    return json_response(_claimed(item))


ROUTES = (
    LaneRoute("/events", post_events, EventBatch, Accepted),
    LaneRoute("/commands/renew", renew, RenewRequest, status=204),
    LaneRoute("/commands/claim", claim_many, BatchClaimRequest),
    LaneRoute("/commands/{command_id}/claim", claim, ClaimRequest, Claimed),
)


def _claimed(item: WorkItem) -> dict[str, Any]:
    """A won claim: the command, its scope, the digest of its playbook's source, and the lease
    of a handed-off command."""
    claimed: dict[str, Any] = {
        "command": item.command.to_dict(),
        "scope": item.scope,
        "playbook": item.digest,
        "claim_token": item.token,
    }
    if item.lease is not None:
        claimed["lease"] = item.lease
    if item.trace:
        claimed["trace"] = item.trace
    return claimed


_FIELDS = frozenset(
    {"schema_version", "type", "execution_id", "seq", "event_id", "created_at", "step"}
    | {"iteration", "command_id", "origin", "idempotency_key", "payload", "claim_token"}
)
_TERMINAL = frozenset({STEP_DONE, STEP_FAILED})


def _decode(index: int, raw: dict[str, Any]) -> tuple[Event, str]:
    """One worker event, every field type-checked (422 naming `events[i].field`), with the
    claim token it echoes. The log stamps seq and id, and the server keys step endings:
    whatever the client sent for those is not trusted. The time is the worker's (when the
    attempt happened), kept when it is a well-formed one."""
    where = f"events[{index}]"
    if not raw.keys() <= _FIELDS:
        unknown = sorted(set(raw) - _FIELDS)
        raise EventCodecError(f"{where}.{unknown[0]}: unknown field")
    if raw.get("schema_version", SCHEMA_VERSION) != SCHEMA_VERSION:
        raise EventCodecError(f"{where}.schema_version: must be {SCHEMA_VERSION}")
    if raw.get("type") not in WORKER_EVENT_TYPES:
        allowed = ", ".join(sorted(WORKER_EVENT_TYPES))
        raise EventCodecError(f"{where}.type: workers may send only {allowed}")
    if raw.get("origin", "worker") not in ("worker", None, ""):
        raise EventCodecError(f"{where}.origin: must be 'worker', not {raw['origin']!r}")
    execution_id = _text(raw, "execution_id", where, required=True)
    command_id = _text(raw, "command_id", where, required=True)
    step = _text(raw, "step", where)
    key = _text(raw, "idempotency_key", where)
    token = _text(raw, "claim_token", where, required=True)
    iteration = raw.get("iteration")
    if iteration is not None and (type(iteration) is not int or not 0 <= iteration < 2**31):
        raise EventCodecError(f"{where}.iteration: must be a whole number >= 0, or null")
    payload = raw.get("payload")
    if payload is not None and not isinstance(payload, dict):
        raise EventCodecError(f"{where}.payload: must be an object")
    if raw["type"] in _TERMINAL:
        key = f"step.end|{command_id}"  # one ending per command, whoever reports it
    event = Event(
        raw["type"],
        execution_id,
        step,
        iteration,
        command_id,
        payload or {},
        "worker",
        key,
        created_at=_happened(raw, where),
    )
    return event, token


def _text(raw: dict[str, Any], name: str, where: str, *, required: bool = False) -> Any:
    value = raw.get(name)
    if type(value) is str and 0 < len(value) <= _MAX_TEXT and "\x00" not in value:
        return value
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or "\x00" in value or len(value) > _MAX_TEXT:
        need = "a non-empty string" + ("" if required else " or null")
        raise EventCodecError(f"{where}.{name}: must be {need} (no NUL, at most {_MAX_TEXT})")
    return value


_MAX_TEXT = 1024  # characters of an id, step name, key or token


def _happened(raw: dict[str, Any], where: str) -> str | None:
    """The event's own time as UTC ISO-8601 with microseconds, None when it gives none.

    A time already in that form (how workers stamp: `stamping.utc_now`) whose date and second
    were checked before is kept as it is: parsing and formatting every event's time was a
    third of the cost of decoding a report."""
    given = raw.get("created_at")
    if given is None:
        return None
    if type(given) is str and given[:19] in _CHECKED_SECONDS and _CANONICAL.fullmatch(given):
        return given
    try:
        moment = datetime.fromisoformat(given) if isinstance(given, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise EventCodecError(f"{where}.created_at: must be an ISO-8601 time with a UTC offset")
    canonical = moment.astimezone(UTC).isoformat(timespec="microseconds")
    if len(_CHECKED_SECONDS) >= _SECONDS_KEPT:
        _CHECKED_SECONDS.clear()
    _CHECKED_SECONDS.add(canonical[:19])
    return canonical


# `YYYY-MM-DDTHH:MM:SS.ffffff+00:00`, ASCII digits only; the part before the fraction must be
# one of the seconds seen valid (a regular expression cannot tell a 13th month).
_CANONICAL = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00", re.ASCII)
_CHECKED_SECONDS: set[str] = set()
_SECONDS_KEPT = 1024
