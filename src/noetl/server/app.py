"""The FastAPI app: lifespan (open the server runtime), guard middleware, routers, errors.

`create_app(settings)` is all a caller needs; `noetl server start` serves it with uvicorn. The
runtime (store, bus, control plane) is opened in the lifespan, on the server's event loop, and
`open_server` resumes the executions the log says are running, so a restarted server picks up
where the last one stopped.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from noetl import __version__
from noetl.config import Settings
from noetl.errors import ConfigError
from noetl.observe.metrics import Metrics
from noetl.runtime.assemble import open_server
from noetl.runtime.assembled import ServerRuntime
from noetl.server import errors, lane, ui
from noetl.server.feed import Feed
from noetl.server.progress import ProgressCache
from noetl.server.routes import (
    catalog,
    credentials,
    executions,
    hooks,
    registry,
    results,
    retention,
    schedules,
    seed_doors,
    streams,
    system,
    views,
    workers,
)

API = "/api/v2"
MAX_BODY = 10 * 1024 * 1024  # bytes; larger request bodies are refused with 413
# Seconds a request body may take to arrive in full; a slower one is answered 408, so a client
# that trickles its body (slowloris) does not keep a connection and a handler waiting.
BODY_DEADLINE = 60.0
# Result uploads have their own limit (`max_result_bytes`): large results are what they are for.
_RESULT_UPLOAD = re.compile(re.escape(API) + r"/executions/[^/]+/results/?")
# What workers call: claims and reports, heartbeats, their playbooks, results, credentials for
# their tasks, child executions (start, wait). Everything else (catalog, credential management,
# listing, cancelling, other executions' events) needs the admin token.
_WORKER_ROUTES = re.compile(
    "|".join(
        (
            rf"POST {API}/events",
            rf"POST {API}/commands/(claim|renew|[^/]+/claim)",
            rf"(PUT|DELETE) {API}/workers/[^/]+",
            rf"GET {API}/executions/[^/]+(/playbook)?",
            rf"POST {API}/executions",
            rf"(PUT|POST) {API}/executions/[^/]+/results",
            rf"GET {API}/results/.+",
            rf"POST {API}/credentials/.+/reveal",
        )
    )
)
_LOOPBACK_NAMES = frozenset({"localhost", "ip6-localhost"})
# Liveness and readiness are open: Kubernetes probes (and most load balancers' health checks)
# send no token. `/ready` names its dependencies' states, never a DSN or a password.
_OPEN_PATHS = frozenset(
    {f"{API}/health", f"{API}/ready", "/docs", "/openapi.json", "/docs/oauth2-redirect"}
)
# A webhook call carries its hook's own secret instead of the API token (see routes/hooks.py).
_HOOK_CALL = re.compile(re.escape(API) + r"/hooks/[^/]+")

log = logging.getLogger(__name__)
Opener = Callable[[Settings], Awaitable[ServerRuntime]]


def create_app(
    settings: Settings,
    *,
    opener: Opener = open_server,
    max_body: int = MAX_BODY,
    body_deadline: float = BODY_DEADLINE,
) -> FastAPI:
    """The NoETL REST API over a runtime that `opener(settings)` builds at startup.

    ConfigError when the settings would serve a non-loopback address without a token (unless
    `allow_open`), or a worker token without an admin token."""
    check_exposure(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = await opener(settings)
        runtime.control.observe(app.state.metrics)
        runtime.control.listen(app.state.feed.observe)
        app.state.runtime = runtime
        try:
            yield
        finally:
            await runtime.close()

    app = FastAPI(
        title="NoETL",
        version=__version__,
        description="Event-sourced workflow orchestration: the control plane's REST API.",
        lifespan=lifespan,
    )
    app.state.metrics = Metrics()
    app.state.feed = Feed()
    app.state.progress = ProgressCache()
    errors.install(app)
    # streams first: `/executions/stream` must not be taken for an execution id
    routers = (catalog, credentials, streams, executions, views, registry, results)
    for module in (*routers, schedules, hooks, retention, seed_doors):
        app.include_router(module.router, prefix=API)
    app.include_router(system.router, prefix=API, include_in_schema=True)
    app.add_api_route("/metrics", system.metrics, include_in_schema=False)
    ui.install(app, open_api=settings.api_token is None)
    _serve_lane(app)
    app.add_middleware(  # outside the lane: the token, the limits and the metric hold there
        Guard,
        token=settings.api_token,
        worker_token=settings.worker_token,
        max_body=max_body,
        max_result_body=settings.max_result_bytes,
        body_deadline=body_deadline,
    )
    return app


def _serve_lane(app: FastAPI) -> None:
    """The worker routes and the start of an execution on the lean lane, documented in the
    app's OpenAPI schema."""
    routes = (*workers.ROUTES, *executions.ROUTES)
    app.add_middleware(lane.Lane, routes=routes, prefix=API)
    schema_of = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            lane.document(schema_of(), routes, API)
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]


class Guard:
    """ASGI middleware: bearer token, request body limits, request latency metric.

    Pure ASGI (not BaseHTTPMiddleware) because it sits on every worker call and must stay cheap.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        token: str | None,
        max_body: int,
        max_result_body: int,
        worker_token: str | None = None,
        body_deadline: float = BODY_DEADLINE,
    ) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode() if token else None
        self.worker = f"Bearer {worker_token}".encode() if worker_token else None
        self.max_body = max_body
        self.max_result_body = max_result_body
        self.body_deadline = body_deadline

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the token and the body size of an HTTP request, time it, pass it on."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if "\x00" in scope["path"] or b"%00" in scope.get("query_string", b""):
            # No id, name or value of NoETL's may hold a NUL (PostgreSQL text cannot).
            await _reply(scope, send, 422, "the path or query holds a NUL byte (%00)")
            return
        headers = dict(scope["headers"])
        if self.expected is not None and not _open(scope):
            given = headers.get(b"authorization", b"")
            refusal = self._refusal(scope, given)
            # Routes that give the admin more (revealing a credential outside a held command)
            # read it from the request's state.
            scope.setdefault("state", {})["admin"] = hmac.compare_digest(given, self.expected)
            if refusal is not None:
                status, message = refusal
                await _reply(scope, send, status, message, {"www-authenticate": "Bearer"})
                return
        limit = self._limit(scope)
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _reply(scope, send, 413, f"request body is larger than {limit} bytes")
            return
        started = time.perf_counter()
        try:
            # A result upload may be large (up to its own limit): its deadline is per read.
            per_read = _uploads_result(scope)
            limited = self._limited(receive, limit, self.body_deadline, per_read=per_read)
            await self.app(scope, limited, send)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            metrics: Metrics = scope["app"].state.metrics
            metrics.latency.labels(scope["method"], route).observe(time.perf_counter() - started)

    def _refusal(self, scope: Scope, given: bytes) -> tuple[int, str] | None:
        """Why the request may not go on (status, message); None when it may. The admin token
        opens every route; the worker token only what workers call."""
        assert self.expected is not None
        if hmac.compare_digest(given, self.expected):
            return None
        if self.worker is not None and hmac.compare_digest(given, self.worker):
            if _WORKER_ROUTES.fullmatch(f"{scope['method']} {scope['path']}"):
                return None
            return 403, "the worker token does not open this route (it needs the API token)"
        return 401, "missing or wrong API token (send 'Authorization: Bearer <token>')"

    def _limit(self, scope: Scope) -> int:
        """The body limit of this request: result uploads have their own."""
        return self.max_result_body if _uploads_result(scope) else self.max_body

    @staticmethod
    def _limited(receive: Receive, limit: int, deadline: float, *, per_read: bool) -> Receive:
        """`receive` that refuses a body without Content-Length once it outgrows `limit`, and
        one that has not arrived in full `deadline` seconds after it was first asked for (with
        `per_read`, one whose next part has not arrived `deadline` seconds after the last)."""
        seen = 0
        due: float | None = None  # loop time the body must have arrived by; None: not asked
        complete = False

        async def limited() -> Message:
            nonlocal seen, due, complete
            if complete:  # after the body only a disconnect comes: a stream waits for it
                return await receive()
            if due is None or per_read:
                due = asyncio.get_running_loop().time() + deadline
            try:
                async with asyncio.timeout_at(due):
                    message = await receive()
            except TimeoutError:
                late = f"the request body did not arrive within {deadline:g} s"
                raise HTTPException(408, late) from None
            complete = message["type"] != "http.request" or not message.get("more_body")
            seen += len(message.get("body", b""))
            if seen > limit:
                # An HTTPException, because FastAPI turns any other error while reading into 400.
                raise HTTPException(413, f"request body is larger than {limit} bytes")
            return message

        return limited


def _uploads_result(scope: Scope) -> bool:
    """Whether the request uploads a step's result (its body has its own limit)."""
    return scope["method"] in ("PUT", "POST") and bool(_RESULT_UPLOAD.fullmatch(scope["path"]))


def _open(scope: Scope) -> bool:
    """Whether a request needs no API token: the UI's pages and assets (they hold no data; the
    page asks for the token and sends it with its API calls), health and docs, hook calls."""
    path = scope["path"]
    if path in _OPEN_PATHS or not (path.startswith(API) or path == "/metrics"):
        return True
    return scope["method"] == "POST" and bool(_HOOK_CALL.fullmatch(path))


async def _reply(
    scope: Scope,
    send: Send,
    status: int,
    message: str,
    extra: dict[str, str] | None = None,
) -> None:
    """Answer without calling the app (the request is refused before it is read)."""
    response = errors.error_response(status, message)
    response.headers.update(extra or {})
    await response(scope, _no_body, send)


async def _no_body() -> Message:
    return {"type": "http.disconnect"}


def check_exposure(settings: Settings) -> None:
    """Refuse settings that would leave the API open to the network: a non-loopback address
    without NOETL_API_TOKEN (unless `allow_open`, which is warned about), or a worker token
    without an admin token (the admin routes would be open)."""
    if settings.worker_token and not settings.api_token:
        raise ConfigError("NOETL_WORKER_TOKEN needs NOETL_API_TOKEN (the admin token) as well")
    if settings.api_token or _is_loopback(settings.host):
        return
    if not settings.allow_open:
        raise ConfigError(
            f"refusing to serve {settings.host} without a token: anyone who can connect could "
            "run code and read credentials. Set NOETL_API_TOKEN (and NOETL_WORKER_TOKEN for "
            "workers), bind 127.0.0.1, or pass --allow-open (NOETL_ALLOW_OPEN=1)"
        )
    log.warning("serving %s WITHOUT a token (--allow-open): the API is open", settings.host)


def _is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything
