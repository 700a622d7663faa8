"""/hooks: webhooks that start a catalog playbook with the request body as its payload.

`POST /hooks/{name}` needs no API token: it carries the hook's own secret in the header
`X-NoETL-Hook-Secret`, compared in constant time with the stored hash. The body must be a JSON
object of at most `HOOK_MAX_BODY` bytes. The secret is never logged nor echoed; the admin
routes (add, list, delete) need the API token like every other route.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Header, HTTPException, Request, Response

from noetl.dsl.load import load_playbook
from noetl.runtime.admin import LocalHooks
from noetl.server.routes import RuntimeDep, json_response, strict_json
from noetl.server.schemas import ExecutionStarted, HookIn

if TYPE_CHECKING:
    from noetl.runtime.assembled import ServerRuntime

router = APIRouter(prefix="/hooks", tags=["hooks"])
HOOK_MAX_BODY = 1024 * 1024  # bytes of a webhook's JSON body
SECRET_HEADER = "X-NoETL-Hook-Secret"


@router.post("", status_code=201)
async def add(body: HookIn, runtime: RuntimeDep) -> Response:
    """Make a hook for catalog playbook `path`; the answer holds its secret, shown only here."""
    made = await _admin(runtime).add_hook(body.name, body.path, body.version)
    return json_response(made, 201)


@router.get("")
async def list_hooks(runtime: RuntimeDep) -> Response:
    """Every hook (never their secrets)."""
    return json_response({"hooks": await _admin(runtime).hooks()})


@router.delete("/{name}", status_code=204)
async def delete(name: str, runtime: RuntimeDep) -> Response:
    """Remove a hook (404 when unknown)."""
    await _admin(runtime).delete_hook(name)
    return Response(status_code=204)


def _admin(runtime: ServerRuntime) -> LocalHooks:
    return LocalHooks(runtime.hooks, runtime.catalog)


@router.post("/{name}", status_code=202)
async def call(
    name: str,
    request: Request,
    runtime: RuntimeDep,
    secret: Annotated[str | None, Header(alias=SECRET_HEADER)] = None,
) -> ExecutionStarted:
    """Start the hook's playbook with the JSON body as its payload (202 with the execution id;
    401 without the right secret, 404 unknown hook, 413 body over 1 MiB, 415 not JSON, 422 not
    strict JSON (`NaN`, `Infinity`: as on every route) or not a JSON object)."""
    hook = await runtime.hooks.get(name)  # NotFoundError -> 404
    if secret is None or not hook.accepts(secret):
        raise HTTPException(401, f"missing or wrong secret (send it in {SECRET_HEADER})")
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise HTTPException(
            415, f"body: send JSON (Content-Type application/json, not {content_type or 'none'!r})"
        )
    raw = await request.body()
    if len(raw) > HOOK_MAX_BODY:
        raise HTTPException(413, f"body: larger than {HOOK_MAX_BODY} bytes")
    try:
        payload = strict_json(raw)  # the one decoder of every route: NaN, Infinity refused
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise HTTPException(422, f"body: not valid JSON ({exc})") from None
    if not isinstance(payload, dict):
        raise HTTPException(422, f"body: must be a JSON object, got {type(payload).__name__}")
    entry = await runtime.catalog.get(hook.path, hook.version)
    playbook = load_playbook(entry.source, file=f"{entry.path}@v{entry.version}")
    execution_id = await runtime.control.start(
        playbook, payload, source=entry.source, trigger={"hook": name}
    )
    return ExecutionStarted(execution_id=execution_id)
