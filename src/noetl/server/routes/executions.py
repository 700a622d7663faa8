"""/executions: start (catalog path or inline YAML), list, get, events, playbook, cancel, retry.

The start is served on the lean lane (`ROUTES`), the rest through FastAPI (`router`)."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Response
from pydantic import StringConstraints

from noetl.dsl.locate import in_catalog, load_located
from noetl.engine.decide import cancel_event
from noetl.engine.events import EVENT_TYPES
from noetl.runtime.retry import prepare_retry
from noetl.runtime.task_logs import task_logs
from noetl.server.lane import LaneCall, LaneHeader, LaneRoute
from noetl.server.routes import (
    MAX_INT64,
    RuntimeDep,
    StrictJsonRoute,
    json_response,
    load_off_loop,
)
from noetl.server.schemas import (
    EventPage,
    ExecutionList,
    ExecutionOut,
    ExecutionStarted,
    PlaybookSource,
    RetryExecution,
    StartExecution,
)
from noetl.store.port import EXECUTION_STATUSES, RUNNING, ExecutionFilter

if TYPE_CHECKING:
    from noetl.runtime.assembled import ServerRuntime

router = APIRouter(route_class=StrictJsonRoute, prefix="/executions", tags=["executions"])


async def start(call: LaneCall) -> Response:
    """Start an execution. It is answered once its first events are in the log (publishing
    its commands is retried in the background); a repeat with the same `Idempotency-Key`
    returns the execution the first one started."""
    key = call.headers.get(IDEMPOTENCY_KEY.name)
    execution_id = await start_execution(call.body, call.runtime, key)
    return json_response({"execution_id": execution_id}, 201)


async def start_execution(body: StartExecution, runtime: ServerRuntime, key: str | None) -> str:
    """Start the execution `body` asks for (once per `key`, when given); its id.

    NotFoundError -> 404, PlaybookError -> 422 with file:line:col problems; nothing stored."""
    if body.path is not None:  # never a file: the server reads no path a request names
        located = in_catalog(body.path, body.version)
        playbook, source = await load_located(located, runtime.catalog)
    else:
        assert body.playbook is not None  # the schema requires one of the two
        # Inline YAML is the request's own: loaded off the event loop, on a deadline (a
        # registered playbook was checked the same way when it was registered).
        seconds = runtime.settings.parse_timeout
        source = body.playbook
        playbook = await load_off_loop(source, "<request>", seconds)
    if body.parent_execution_id is not None:
        await runtime.store.get_execution(body.parent_execution_id)  # unknown parent -> 404
    return await runtime.control.start(
        playbook,
        body.payload,
        source=source,
        parent_execution_id=body.parent_execution_id,
        request_key=key,
        trace=body.trace,
    )


IDEMPOTENCY_KEY = LaneHeader(
    "Idempotency-Key",
    Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=r"^[\x21-\x7e]+$")],
    "Start once: a repeat with the same key returns the same execution.",
)
# Served on the lean lane (`noetl.server.lane`): every execution starts here, and FastAPI's
# layers cost more than the start's own work on a short run.
ROUTES = (
    LaneRoute(
        "/executions",
        start,
        StartExecution,
        ExecutionStarted,
        status=201,
        headers=(IDEMPOTENCY_KEY,),
        tag="executions",
        operation_id="start_api_v2_executions_post",
    ),
)


@router.get("")
async def list_executions(
    runtime: RuntimeDep,
    status: Annotated[str | None, Query(description="running|done|failed|cancelled")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_INT64)] = 0,
    playbook: Annotated[str | None, Query(min_length=1, description="Catalog path.")] = None,
    since: Annotated[datetime | None, Query(description="Started at or after.")] = None,
    until: Annotated[datetime | None, Query(description="Started before.")] = None,
    before: Annotated[
        str | None, Query(min_length=1, description="Page key: `next` of the previous page.")
    ] = None,
    parent: Annotated[str | None, Query(min_length=1, description="Children of it.")] = None,
    id_prefix: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=64,
            pattern=r"^[0-9A-Za-z_-]+$",
            description="Executions whose id starts with it.",
        ),
    ] = None,
) -> ExecutionList:
    """Executions, newest started first; `next` pages on (keyset: as fast deep as at the top)."""
    if status is not None and status not in EXECUTION_STATUSES:
        known = ", ".join(sorted(EXECUTION_STATUSES))
        raise HTTPException(422, f"status: unknown status {status!r} (one of {known})")
    where = ExecutionFilter(
        status=status,
        playbook=playbook,
        since=_utc(since),
        until=_utc(until),
        before=before,
        parent=parent,
        id_prefix=id_prefix,
    )
    rows = await runtime.store.list_executions(limit=limit, offset=offset, where=where)
    more = rows[-1].execution_id if len(rows) == limit else None
    return ExecutionList(executions=[ExecutionOut(**r.to_dict()) for r in rows], next=more)


def _utc(moment: datetime | None) -> str | None:
    """How the log writes times (UTC ISO-8601, microseconds); a naive time is taken as UTC."""
    if moment is None:
        return None
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(timespec="microseconds")


@router.get("/{execution_id}", response_model=ExecutionOut)
async def get_execution(
    execution_id: str,
    runtime: RuntimeDep,
    wait: Annotated[float, Query(ge=0, le=60)] = 0,
) -> Response:
    """One execution's summary (404 when unknown).

    `wait` > 0 long-polls: the answer comes when the execution ends or after `wait` seconds,
    whichever is first, so clients waiting for a result do not poll.
    """
    summary = await runtime.store.get_execution(execution_id)
    if wait > 0 and summary.status == "running":
        with contextlib.suppress(TimeoutError):
            summary = await asyncio.wait_for(runtime.control.wait(execution_id), wait)
    return json_response(summary.to_dict())


@router.get("/{execution_id}/logs")
async def logs(
    execution_id: str,
    runtime: RuntimeDep,
    step: Annotated[str | None, Query(min_length=1)] = None,
    limit: Annotated[int | None, Query(ge=1, le=100_000)] = None,
) -> Response:
    """What the execution's tasks printed, one entry per attempt (of `step`, when given; the
    first `limit` when given): `{"logs": [{step, iteration, task, attempt, worker_id, status,
    created_at, output, truncated}]}`."""
    await runtime.store.get_execution(execution_id)  # unknown -> 404
    entries = await task_logs(runtime.store, runtime.results, execution_id, step, limit)
    return json_response({"execution_id": execution_id, "logs": entries})


@router.get("/{execution_id}/events", response_model=EventPage)
async def events(
    execution_id: str,
    runtime: RuntimeDep,
    after_seq: Annotated[int, Query(ge=0, le=MAX_INT64)] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    types: Annotated[
        list[str] | None, Query(alias="type", description="Only these types (repeatable).")
    ] = None,
    step: Annotated[str | None, Query(min_length=1, description="Only this step's.")] = None,
    iterations: Annotated[
        bool, Query(description="false: none of a loop iteration's events.")
    ] = True,
    order: Annotated[
        Literal["oldest", "newest"],
        Query(description="newest: the last `limit` events, newest first (no paging on)."),
    ] = "oldest",
) -> Response:
    """Events with seq > after_seq, in order (page on with the last seq you got)."""
    unknown = sorted(set(types or ()) - EVENT_TYPES)
    if unknown:
        raise HTTPException(422, f"type: unknown event type {unknown[0]!r}")
    await runtime.store.get_execution(execution_id)  # unknown -> 404, not an empty page
    log = await runtime.store.read(
        execution_id,
        after_seq=after_seq,
        limit=limit,
        types=types,
        step=step,
        iterations=iterations,
        newest_first=order == "newest",
    )
    return json_response({"execution_id": execution_id, "events": [e.to_dict() for e in log]})


@router.get("/{execution_id}/playbook")
async def playbook(execution_id: str, runtime: RuntimeDep) -> PlaybookSource:
    """The YAML the execution was started with (workers load it once per execution)."""
    first = await runtime.store.read(execution_id, limit=1)
    source = first[0].payload.get("playbook", {}).get("source") if first else None
    if source is None:
        raise HTTPException(404, f"execution {execution_id} not found")
    return PlaybookSource(execution_id=execution_id, source=source)


@router.post("/{execution_id}/cancel", status_code=202)
async def cancel(execution_id: str, runtime: RuntimeDep) -> Response:
    """Ask a running execution to stop (409 when it already ended)."""
    summary = await runtime.store.get_execution(execution_id)
    if summary.status != RUNNING:
        raise HTTPException(409, f"execution {execution_id} already ended ({summary.status})")
    await runtime.control.submit([cancel_event(execution_id, "cancelled by request")])
    await runtime.control.flush()
    return json_response((await runtime.store.get_execution(execution_id)).to_dict(), 202)


@router.post("/{execution_id}/retry", status_code=201)
async def retry(execution_id: str, body: RetryExecution, runtime: RuntimeDep) -> ExecutionStarted:
    """Start a retry of a failed (or cancelled) execution: the steps it finished are reused, the
    failed step (or `from_step`) and what follows run again (404 unknown execution, 409 one
    still running or done without `from_step`, 400 an unknown step or another playbook)."""
    source = file = None
    if body.version is not None:
        path = (await runtime.store.get_execution(execution_id)).playbook_path
        entry = await runtime.catalog.get(path, body.version)  # NotFoundError -> 404
        source, file = entry.source, f"{entry.path}@v{entry.version}"
    elif body.playbook is not None:
        source, file = body.playbook, "<request>"
    job = await prepare_retry(
        runtime.store,
        execution_id,
        from_step=body.from_step,
        source=source,
        file=file,
        overrides=body.payload,
    )
    new_id = await runtime.control.start(
        job.playbook, job.payload, source=job.source, retry=job.retry
    )
    return ExecutionStarted(execution_id=new_id)
