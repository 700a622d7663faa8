"""/credentials: the server's encrypted credentials, managed by the CLI and read by workers.

Data is encrypted with the server's NOETL_SECRET_KEY before it is stored; workers never hold the
key. Listing shows names, types and times only. `POST /credentials/{name}/reveal` hands the
decrypted data to a worker running a task that uses it: a POST, so no proxy caches the answer
and no access log line carries it. Every route sits behind the API token (the `Guard`). Errors
name the credential and the field, never a value.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError

from noetl.errors import CredentialError, NotFoundError, NotHeldError, UnknownCredentialError
from noetl.server.errors import error_response
from noetl.server.routes import RuntimeDep, StrictJsonRoute
from noetl.server.schemas import (
    CredentialData,
    CredentialIn,
    CredentialOut,
    CredentialStored,
    RevealRequest,
)
from noetl.store.credentials import CREDENTIAL_TYPES, check_data, check_name, make_cipher

if TYPE_CHECKING:
    from noetl.runtime.assembled import ServerRuntime

router = APIRouter(route_class=StrictJsonRoute, prefix="/credentials", tags=["credentials"])

NO_KEY = (
    "NOETL_SECRET_KEY is not set on the server: start the server with the key the credentials "
    "are encrypted with in its environment (`noetl credentials keygen` makes a new one)"
)


@router.get("")
async def list_credentials(runtime: RuntimeDep) -> list[CredentialOut]:
    """Name, type and times of every credential, by name (never its data)."""
    return [CredentialOut(**info.to_dict()) for info in await runtime.credentials.list()]


@router.put("/{name:path}", status_code=201, responses={200: {"description": "Replaced"}})
async def put_credential(
    name: str, body: CredentialIn, runtime: RuntimeDep, response: Response
) -> CredentialStored:
    """Create (201) or replace (200) credential `name`; 422 names the field that is wrong."""
    try:
        check_name(name)
    except CredentialError as exc:
        _invalid(("path", "name"), exc)
    try:
        check_data(name, body.type, body.data)
    except CredentialError as exc:
        _invalid(("body", "type" if body.type not in CREDENTIAL_TYPES else "data"), exc)
    _require_key(runtime.settings.secret_key)
    created = await runtime.credentials.set(name, body.type, body.data)
    response.status_code = 201 if created else 200
    return CredentialStored(name=name, type=body.type, created=created)


@router.delete("/{name:path}", status_code=204)
async def delete_credential(name: str, runtime: RuntimeDep) -> Response:
    """Delete credential `name` (404 when there is none)."""
    await runtime.credentials.delete(name)
    return Response(status_code=204)


@router.post("/{name:path}/reveal", response_model=CredentialData)
async def reveal_credential(
    name: str, request: Request, runtime: RuntimeDep, body: RevealRequest | None = None
) -> Response | CredentialData:
    """The decrypted data of credential `name`, for a worker's task (404 when unknown).

    Only for a command the caller holds (`body`: its execution, command and claim token; 403
    otherwise), unless the caller sent the admin token."""
    if not getattr(request.state, "admin", False):
        await _require_hold(name, body, runtime)
    _require_key(runtime.settings.secret_key)
    try:
        data = await runtime.credentials.get(name)
    except UnknownCredentialError:
        raise NotFoundError(
            f"credential {name!r} not found on the server "
            "(see `noetl credentials list --server URL`)"
        ) from None
    except CredentialError as exc:  # undecryptable: a wrong server key, or an altered row
        return error_response(500, str(exc), kind="credential")
    return CredentialData(name=name, data=data)


async def _require_hold(name: str, body: RevealRequest | None, runtime: ServerRuntime) -> None:
    """403 unless `body` names a running command its claim token holds."""
    if body is None:
        raise HTTPException(
            403,
            f"credential {name!r} is revealed only for a command the worker holds: send its "
            "execution_id, command_id and claim_token",
        )
    try:
        await runtime.control.leases.check_holding(
            [(body.execution_id, body.command_id, body.claim_token)]
        )
    except (NotHeldError, NotFoundError) as exc:
        raise HTTPException(
            403, f"credential {name!r} not revealed: {str(exc).removeprefix('held[0]: ')}"
        ) from None


def _require_key(secret_key: str | None) -> None:
    """503 when the server cannot seal or open credentials (no key, or a malformed one)."""
    if not secret_key:
        raise HTTPException(503, NO_KEY)
    try:
        make_cipher(secret_key)
    except CredentialError as exc:
        raise HTTPException(503, f"on the server: {exc}") from None


def _invalid(loc: tuple[str, str], exc: CredentialError) -> NoReturn:
    """A 422 shaped like every other validation error (`fields` names `loc`)."""
    raise RequestValidationError([{"loc": loc, "msg": str(exc), "type": "value_error"}])
