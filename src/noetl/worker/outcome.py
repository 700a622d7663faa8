"""The outcome envelope: what one task attempt produced, as `eval` rules see it.

`{status: success|error, result, error: {kind, message, retryable, code, status_code} | None,
meta: {attempt, duration_ms}}`. Plain dicts on purpose: templates read them directly and the hot
path pays for nothing more. An error dict may also carry `retry_after` (seconds) when the tool
said how long to wait (HTTP `Retry-After`); retry backoff honours it.
"""

from __future__ import annotations

from typing import Any

from noetl.errors import TemplateError, ToolError

SUCCESS = "success"
ERROR = "error"


def success(result: Any, attempt: int, duration_ms: float) -> dict[str, Any]:
    """The envelope of an attempt that returned `result`."""
    return {
        "status": SUCCESS,
        "result": result,
        "error": None,
        "meta": {"attempt": attempt, "duration_ms": duration_ms},
    }


def failure(error: dict[str, Any], attempt: int, duration_ms: float) -> dict[str, Any]:
    """The envelope of an attempt that failed with `error` (see `error_info`)."""
    return {
        "status": ERROR,
        "result": None,
        "error": error,
        "meta": {"attempt": attempt, "duration_ms": duration_ms},
    }


# What `outcome.error` reads as in eval rules after a success: every field empty, so a rule
# such as `outcome.error.retryable` is simply false instead of failing the step.
_NO_ERROR = {
    "kind": None,
    "category": None,
    "message": None,
    "retryable": False,
    "code": None,
    "status_code": None,
}


def rule_view(outcome: dict[str, Any]) -> dict[str, Any]:
    """The outcome as eval rules see it: `error` is never None and has a `category` (NoETL's
    error kinds: server_error, rate_limit, auth, client_error, or the kind itself), and
    `http.status` holds the HTTP status of either outcome (None when it was not an HTTP call)."""
    result = outcome.get("result")
    error = outcome.get("error")
    error = {**error, "category": error_category(error)} if error else _NO_ERROR
    status = error.get("status_code")
    if status is None and isinstance(result, dict):
        status = result.get("status_code")
    return {**outcome, "error": error, "http": {"status": status}}


def error_category(error: dict[str, Any]) -> str | None:
    """NoETL's name for the kind of an error, read from its HTTP status when it has one."""
    status = error.get("status_code")
    if isinstance(status, int):
        if status == 429:
            return "rate_limit"
        if status in (401, 403):
            return "auth"
        if status >= 500:
            return "server_error"
        if status >= 400:
            return "client_error"
    kind = error.get("kind")
    return str(kind) if kind is not None else None


def error_info(
    kind: str,
    message: str,
    *,
    retryable: bool = False,
    code: str | None = None,
    status_code: int | None = None,
) -> dict[str, Any]:
    """An envelope `error` dict."""
    return {
        "kind": kind,
        "message": message,
        "retryable": retryable,
        "code": code,
        "status_code": status_code,
    }


def error_from_exception(exc: BaseException) -> dict[str, Any]:
    """Translate what a task raised into an envelope `error` dict.

    A `ToolError` carries its own fields; a `TemplateError` is a non-retryable `template` error;
    a `TimeoutError` is a retryable `timeout`; anything else is a bug in a tool and is reported
    as kind `internal` with the exception type, so it is visible rather than swallowed.
    """
    if isinstance(exc, ToolError):
        info = error_info(
            exc.kind,
            exc.message,
            retryable=exc.retryable,
            code=exc.code,
            status_code=exc.status_code,
        )
        if exc.retry_after is not None:
            info["retry_after"] = exc.retry_after
        if exc.traceback is not None:
            info["traceback"] = exc.traceback
        return info
    if isinstance(exc, TemplateError):
        return error_info("template", str(exc))
    if isinstance(exc, TimeoutError):
        return error_info("timeout", str(exc) or "timed out", retryable=True)
    return error_info("internal", f"{type(exc).__name__}: {exc}")
