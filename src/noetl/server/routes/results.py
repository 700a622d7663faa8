"""Large results: upload a body once, get it back by key (workers on any machine share them).

Bodies are raw bytes with their own content type (no JSON wrapping, so a 50 MB result is sent
as 50 MB). They may be larger than other requests: the Guard gives uploads here their own limit,
`max_result_bytes`.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response

from noetl.errors import NotFoundError
from noetl.server.routes import RuntimeDep, StrictJsonRoute, json_response
from noetl.server.schemas import StoredResultRef
from noetl.store.port import RUNNING
from noetl.store.results import JSON, KeyedResultStore, content_key

router = APIRouter(route_class=StrictJsonRoute, tags=["results"])

UPLOAD_PATH = "/executions/{execution_id}/results"
_BINARY = {"type": "string", "format": "binary"}
_RAW_BODY = {"requestBody": {"content": {"*/*": {"schema": _BINARY}}}}


@router.put(
    UPLOAD_PATH,
    status_code=201,
    response_model=StoredResultRef,
    openapi_extra=_RAW_BODY,
    operation_id="put_result",
)
@router.post(
    UPLOAD_PATH,
    status_code=201,
    response_model=StoredResultRef,
    openapi_extra=_RAW_BODY,
    operation_id="post_result",
)
async def upload(execution_id: str, request: Request, runtime: RuntimeDep) -> Response:
    """Store the raw request body once (its Content-Type is kept); answer its reference.
    Only into a running execution (409 otherwise), within its quota (413 past it)."""
    summary = await runtime.store.get_execution(execution_id)  # unknown -> 404, nothing stored
    if summary.status != RUNNING:
        raise HTTPException(409, f"execution {execution_id} is {summary.status}: no uploads")
    body = await request.body()
    if not body:
        raise HTTPException(422, "body: a result upload needs a non-empty body")
    quota = runtime.settings.max_execution_result_bytes
    over = await runtime.results.usage(execution_id) + len(body) > quota
    if over and not await _stored_already(runtime.results, execution_id, body):
        raise HTTPException(
            413,
            f"execution {execution_id} would store more than {quota} bytes of results "
            "(NOETL_MAX_EXECUTION_RESULT_BYTES)",
        )
    content_type = request.headers.get("content-type") or JSON
    ref = await runtime.results.put(execution_id, body, content_type)
    return json_response(ref, 201)


async def _stored_already(results: KeyedResultStore, execution_id: str, body: bytes) -> bool:
    """Whether these bytes are stored for the execution already: uploading them again (a
    retry after a lost answer) stores nothing, so the quota does not refuse it."""
    try:
        await results.read(content_key(execution_id, body)[0])
    except NotFoundError:
        return False
    return True


@router.get("/results/{key:path}", summary="Read a result")
async def download(key: str, runtime: RuntimeDep) -> Response:
    """The stored bytes with their content type (checked against the recorded sha256)."""
    stored = await runtime.results.read(key)  # NotFoundError -> 404 naming the key
    return Response(stored.body, media_type=stored.content_type)
