"""The `http` tool kind: one HTTP request through a pooled httpx client.

Fields (already rendered): `method` (default GET), `url` (required, http/https), `headers`,
`params` (query string), at most one body of `json` (any JSON value), `data` (a mapping sent as
a form, or a string) or `body` (raw text/bytes), `auth`, `follow_redirects` (default false),
`verify` (TLS: true/false or a CA bundle path). The task `timeout` (seconds, default 30) bounds
the request.

`auth` is a credential name (resolved by `noetl.tools.credentials.lookup_credential`) or an
inline mapping; either way it is one of `{type: bearer, token}`, `{type: basic, username,
password}` or `{type: api_key, value, header (default X-API-Key)}`.

Result: `{status_code, headers, data, url, elapsed_ms}`; `data` is the parsed JSON body when the
content type says JSON or the body parses as JSON, else the text (None when empty). A non-2xx
answer raises ToolError kind "http" carrying the status and a body excerpt; 429 and 5xx are
retryable and a `Retry-After` header becomes `retry_after`. Connection failures and timeouts are
kinds "connection" and "timeout", both retryable. Credential values never appear in errors.

One `httpx.AsyncClient` per worker and `verify` value lives in `ctx.resources.pools["http"]`
(TLS settings are fixed per client), so connections are reused across tasks.
"""

from __future__ import annotations

import base64
import json
import ssl
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar

import httpx

from noetl.errors import ToolError
from noetl.tools.base import ToolContext
from noetl.tools.credentials import lookup_credential

DEFAULT_TIMEOUT = 30.0
EXCERPT_CHARS = 500
BODY_FIELDS = ("json", "data", "body")


class HttpTool:
    """Sends one HTTP request and returns the response as a JSON-friendly mapping."""

    kind: ClassVar[str] = "http"

    async def run(self, config: Mapping[str, Any], ctx: ToolContext) -> Any:
        """Send the request described by `config`; raise ToolError on failure or non-2xx."""
        method = str(config.get("method") or "GET").upper()
        url = _checked_url(config.get("url"), ctx)
        headers = _string_map(config.get("headers"), "headers", ctx)
        auth_headers, secrets = await _auth_headers(config.get("auth"), ctx)
        request: dict[str, Any] = {
            "headers": {**headers, **auth_headers},
            "timeout": _timeout(config, ctx),
            "follow_redirects": bool(config.get("follow_redirects", False)),
            **_body(config, ctx),
        }
        # Merged by hand: httpx would drop a query string already in the url.
        target = httpx.URL(url).copy_merge_params(_params(config.get("params"), ctx))
        client = _client(ctx, config.get("verify", True))
        started = time.perf_counter()
        try:
            response = await client.request(method, target, **request)
        except httpx.HTTPError as exc:
            raise _transport_error(exc, method, url, ctx) from None
        elapsed_ms = round((time.perf_counter() - started) * 1000, 3)
        if not response.is_success:
            raise _status_error(response, method, url, secrets, ctx)
        return {
            "status_code": response.status_code,
            "headers": dict(response.headers),
            "data": _data(response),
            "url": str(response.url),
            "elapsed_ms": elapsed_ms,
        }


def _where(ctx: ToolContext, field: str | None = None) -> str:
    """`step 'a' task 'b' field 'c'`: the prefix of every message this tool raises."""
    where = f"step {ctx.step!r} task {ctx.task!r}"
    return f"{where} field {field!r}" if field else where


def _config_error(ctx: ToolContext, field: str, message: str) -> ToolError:
    return ToolError(f"{_where(ctx, field)}: {message}", kind="config")


def _checked_url(value: Any, ctx: ToolContext) -> str:
    if not value or not isinstance(value, str):
        raise _config_error(ctx, "url", "a url (http:// or https://) is required")
    try:
        url = httpx.URL(value)
    except httpx.InvalidURL as exc:
        raise _config_error(ctx, "url", f"invalid url {value!r}: {exc}") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise _config_error(
            ctx, "url", f"{value!r} is not an http:// or https:// url with a host"
        ) from None
    return value


def _string_map(value: Any, field: str, ctx: ToolContext) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _config_error(ctx, field, f"expected a mapping, got {type(value).__name__}")
    return {str(k): "" if v is None else str(v) for k, v in value.items()}


def _params(value: Any, ctx: ToolContext) -> dict[str, Any]:
    """Query parameters, added to the url's own; a list value repeats the key (`?a=1&a=2`)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _config_error(ctx, "params", f"expected a mapping, got {type(value).__name__}")
    return {str(k): _param_value(v) for k, v in value.items()}


def _param_value(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [_param_value(v) for v in value]
    if isinstance(value, bool):  # JSON spelling, not Python's "True"
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return json.dumps(value)
    return "" if value is None else value


def _body(config: Mapping[str, Any], ctx: ToolContext) -> dict[str, Any]:
    """The httpx keyword for the request body (`json`, `data` or `content`)."""
    given = [name for name in BODY_FIELDS if config.get(name) is not None]
    if len(given) > 1:
        raise _config_error(ctx, given[1], f"give at most one of json, data, body (got {given})")
    if not given:
        return {}
    name = given[0]
    value = config[name]
    if name == "json":
        return {"json": value}
    if name == "data" and isinstance(value, Mapping):
        return {"data": {str(k): _param_value(v) for k, v in value.items()}}
    if isinstance(value, str | bytes):
        return {"content": value}
    raise _config_error(ctx, name, f"expected text, got {type(value).__name__}")


def _timeout(config: Mapping[str, Any], ctx: ToolContext) -> float:
    """The task timeout: the tighter of the configured one and what is left of the task's time."""
    bounds = [float(t) for t in (config.get("timeout"), ctx.timeout) if t is not None]
    return min(bounds) if bounds else DEFAULT_TIMEOUT


def _client(ctx: ToolContext, verify: Any) -> httpx.AsyncClient:
    """The worker's pooled client for this `verify` setting, created on first use."""
    clients: dict[Any, httpx.AsyncClient] = ctx.resources.pools.setdefault("http", {})
    if isinstance(verify, str) and verify.lower() in ("true", "false"):
        verify = verify.lower() == "true"  # a template rendered into text
    key = verify if isinstance(verify, bool | str) else bool(verify)
    client = clients.get(key)
    if client is None:
        tls: ssl.SSLContext | bool = key if isinstance(key, bool) else _ca_bundle(key, ctx)
        client = httpx.AsyncClient(verify=tls)
        clients[key] = client
        ctx.resources.closers.append(client.aclose)
    return client


def _ca_bundle(path: str, ctx: ToolContext) -> ssl.SSLContext:
    """A TLS context trusting the CA bundle at `path`."""
    try:
        return ssl.create_default_context(cafile=path)
    except (OSError, ssl.SSLError) as exc:
        raise _config_error(ctx, "verify", f"cannot load CA bundle {path!r}: {exc}") from None


async def _auth_headers(auth: Any, ctx: ToolContext) -> tuple[dict[str, str], list[str]]:
    """Headers carrying `auth`, and the secret values to keep out of error messages."""
    if auth is None:
        return {}, []
    if isinstance(auth, str):
        spec = await lookup_credential(ctx, auth, "auth")
        origin, kind = f"credential {auth!r}", "credential"
    elif isinstance(auth, Mapping):
        spec, origin, kind = auth, "inline auth", "config"
    else:
        raise _config_error(ctx, "auth", "expected a credential name or a {type: ...} mapping")
    return _headers_for(spec, origin, kind, ctx)


def _headers_for(
    spec: Mapping[str, Any], origin: str, kind: str, ctx: ToolContext
) -> tuple[dict[str, str], list[str]]:
    def need(*keys: str) -> list[str]:
        missing = [k for k in keys if not spec.get(k)]
        if missing:
            raise ToolError(
                f"{_where(ctx, 'auth')}: {origin} of type {auth_type!r} lacks {missing}", kind=kind
            )
        return [str(spec[k]) for k in keys]

    auth_type = str(spec.get("type", "")).lower()
    if auth_type == "bearer":
        (token,) = need("token")
        return {"Authorization": f"Bearer {token}"}, [token]
    if auth_type == "basic":
        user, password = need("username", "password")
        encoded = base64.b64encode(f"{user}:{password}".encode()).decode()
        return {"Authorization": f"Basic {encoded}"}, [password, encoded]
    if auth_type == "api_key":
        (value,) = need("value")
        return {str(spec.get("header") or "X-API-Key"): value}, [value]
    raise ToolError(
        f"{_where(ctx, 'auth')}: {origin} has type {auth_type or None!r}; expected bearer, basic "
        "or api_key",
        kind=kind,
    )


def _transport_error(exc: httpx.HTTPError, method: str, url: str, ctx: ToolContext) -> ToolError:
    """Translate an httpx failure that produced no response."""
    target = f"{method} {_without_query(url)}"
    detail = str(exc) or type(exc).__name__
    code = type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        message = f"{_where(ctx, 'url')}: {target} timed out ({detail})"
        return ToolError(message, kind="timeout", retryable=True, code=code)
    if isinstance(exc, httpx.TransportError):
        message = f"{_where(ctx, 'url')}: {target} failed to connect or read: {detail}"
        return ToolError(message, kind="connection", retryable=True, code=code)
    return ToolError(f"{_where(ctx, 'url')}: {target} failed: {detail}", kind="http", code=code)


def _status_error(
    response: httpx.Response, method: str, url: str, secrets: list[str], ctx: ToolContext
) -> ToolError:
    """A non-2xx response as an error outcome: status, reason and a body excerpt."""
    status = response.status_code
    excerpt = response.text[:EXCERPT_CHARS]
    for secret in secrets:  # an echoing server must not leak the credential into the log
        excerpt = excerpt.replace(secret, "***")
    message = (
        f"{_where(ctx)}: {method} {_without_query(url)} answered HTTP {status} "
        f"{response.reason_phrase}: {excerpt}"
    )
    return ToolError(
        message,
        kind="http",
        retryable=status == 429 or status >= 500,
        status_code=status,
        retry_after=_retry_after(response.headers.get("Retry-After")),
    )


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _without_query(url: str) -> str:
    """The url without its query string, which may carry keys."""
    return url.split("?", 1)[0]


def _data(response: httpx.Response) -> Any:
    """Parsed JSON when the response is (or parses as) JSON, else its text; None when empty."""
    text = response.text
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text
