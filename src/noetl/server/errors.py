"""The one mapping from errors to HTTP responses.

Every error body has the same shape, `{"error": {"kind", "message", ...}}`, so clients need one
decoder. Expected errors keep their message (they say what and where, never secrets); anything
unexpected is logged here and answered with a bare 500 that reveals no internals.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from noetl.errors import (
    ConfigError,
    ConflictError,
    EventCodecError,
    NotFoundError,
    PlaybookError,
    StoreInputError,
    StoreUnavailableError,
    TemplateError,
)

RETRY_AFTER = "1"  # seconds a client waits before retrying a 503

log = logging.getLogger(__name__)
E = TypeVar("E", bound=Exception)
Handler = Callable[[Request, Exception], Awaitable[JSONResponse]]

_KINDS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    408: "timeout",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    503: "unavailable",
}


def error_response(status: int, message: str, **extra: Any) -> JSONResponse:
    """A JSON error response: `{"error": {"kind", "message", **extra}}`."""
    kind = _KINDS.get(status, "internal" if status >= 500 else "error")
    return JSONResponse({"error": {"kind": kind, "message": message, **extra}}, status)


# The status of each expected error that is answered with its message alone.
_STATUS: dict[type[Exception], int] = {
    NotFoundError: 404,
    ConflictError: 409,
    StoreInputError: 422,
    EventCodecError: 422,
    TemplateError: 422,  # a workload rendered at start
    ConfigError: 400,
}


def install(app: FastAPI) -> None:
    """Register the handlers that turn exceptions into error responses."""
    app.add_exception_handler(
        RequestValidationError, _only(RequestValidationError, _invalid_request)
    )
    app.add_exception_handler(HTTPException, _only(HTTPException, _http_error))
    app.add_exception_handler(PlaybookError, _only(PlaybookError, _invalid_playbook))
    for kind, status in _STATUS.items():
        app.add_exception_handler(kind, _status(status))
    app.add_exception_handler(StoreUnavailableError, _unavailable)
    app.add_exception_handler(Exception, _internal)


def answer(exc: Exception) -> JSONResponse | None:
    """The error response of an expected error, None for anything else (for code that answers
    outside FastAPI's handlers: the lean lane, `noetl.server.lane`)."""
    if isinstance(exc, HTTPException):
        return _http_answer(exc)
    if isinstance(exc, StoreUnavailableError):
        return _unavailable_answer(exc)
    if isinstance(exc, PlaybookError):
        return _playbook_answer(exc)
    # the most specific registered class first, as Starlette looks handlers up
    status = next((_STATUS[k] for k in type(exc).__mro__ if k in _STATUS), None)
    return None if status is None else error_response(status, str(exc))


def _only(kind: type[E], handle: Callable[[Request, E], Awaitable[JSONResponse]]) -> Handler:
    """`handle` as Starlette types a handler (any exception): it is registered for `kind`, so
    Starlette only ever gives it a `kind`."""

    async def handler(request: Request, exc: Exception) -> JSONResponse:
        if not isinstance(exc, kind):
            raise exc
        return await handle(request, exc)

    return handler


def field_name(loc: tuple[Any, ...] | list[Any]) -> str:
    """`("body", "events", 3, "type")` -> `events[3].type` (where the problem is)."""
    name = ""
    # Only the first part says where (body, query, path): a body field may be named `path`.
    skip = 1 if loc and loc[0] in ("body", "query", "path") else 0
    for part in list(loc)[skip:]:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or "body"


async def _invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
    return invalid_request([field_error(e) for e in exc.errors()])


def invalid_request(fields: list[dict[str, str]]) -> JSONResponse:
    """422 naming each field that is wrong and why (`{"field", "message"}` each)."""
    summary = "; ".join(f"{f['field']}: {f['message']}" for f in fields)
    return error_response(422, summary or "invalid request", fields=fields)


def field_error(error: Any) -> dict[str, str]:
    """A pydantic error as `{"field": "events[3].type", "message": ...}`."""
    if error.get("type") == "json_invalid":  # loc is (body, offset): say why and where
        why = (error.get("ctx") or {}).get("error", "")
        return {"field": "body", "message": f"not valid JSON at offset {error['loc'][-1]}: {why}"}
    return {"field": field_name(error["loc"]), "message": error["msg"]}


async def _http_error(_: Request, exc: HTTPException) -> JSONResponse:
    return _http_answer(exc)


def _http_answer(exc: HTTPException) -> JSONResponse:
    response = error_response(exc.status_code, str(exc.detail))
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def _invalid_playbook(_: Request, exc: PlaybookError) -> JSONResponse:
    return _playbook_answer(exc)


def _playbook_answer(exc: PlaybookError) -> JSONResponse:
    problems = [p.to_dict() for p in exc.problems]
    return error_response(422, str(exc), kind="invalid_playbook", problems=problems)


def _status(status: int) -> Handler:
    async def handle(_: Request, exc: Exception) -> JSONResponse:
        return error_response(status, str(exc))

    return handle


async def _unavailable(_: Request, exc: Exception) -> JSONResponse:
    return _unavailable_answer(exc)


def _unavailable_answer(exc: Exception) -> JSONResponse:
    """The store is down or restarting: nothing was written; the client should retry."""
    log.warning("answered 503: %s", exc)
    response = error_response(503, str(exc))
    response.headers["retry-after"] = RETRY_AFTER
    return response


async def _internal(request: Request, exc: Exception) -> JSONResponse:
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal server error")
