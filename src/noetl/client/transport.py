"""The client of a NoETL server's REST API, used by the CLI's `--server` commands and workers.

`ServerClient` is the one place that knows the API's error bodies (and, with `operator.py`, its
paths); it turns them back into NoETL errors (404 -> NotFoundError, 409 -> ConflictError, 422
with problems -> PlaybookError, anything else or no answer -> RemoteError). It runs on aiohttp:
a worker makes one request per step, and aiohttp's client costs a fraction of the CPU time of
httpx's per request (measured in benchmarks/README.md), which is per-step latency on a busy
machine.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

import aiohttp

from noetl.bus.port import Pointer
from noetl.client.operator import OperatorCalls
from noetl.engine.events import Event, _json_default
from noetl.errors import (
    ConflictError,
    NotFoundError,
    PlaybookError,
    Problem,
    RemoteError,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
API = "/api/v2"
RUNNING = "running"
KEEP_ALIVE = 4.0  # seconds an idle connection is kept for reuse
START_PATIENCE = 60.0  # seconds a start is sent again (same key) while its answer is lost

STREAMED_BODY = 1024 * 1024  # bytes past which a request body is sent as a stream
LONG_POLL = 20.0  # seconds a wait request is held by the server before it answers "running"


@dataclass(frozen=True, slots=True)
class Answer:
    """A successful response, read whole."""

    status: int
    content: bytes
    content_type: str

    def json(self) -> Any:
        """The body as JSON."""
        return json.loads(self.content)


class ServerClient(OperatorCalls):
    """Async client of one server's REST API (its connection pool opens on the first request).

    The workers' calls are here (claims, reports, leases, results, and the start of and wait
    for a child execution); those only people's tools make are `OperatorCalls`'."""

    def __init__(self, base_url: str, *, token: str | None = None, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = {"authorization": f"Bearer {token}"} if token else {}
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def aclose(self) -> None:
        """Close the connection pool."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            # Idle connections are dropped before the server's keep-alive (uvicorn: 5 s) closes
            # them: reusing one the server has just closed fails the request.
            connector = aiohttp.TCPConnector(keepalive_timeout=KEEP_ALIVE)
            self._session = aiohttp.ClientSession(
                headers=self._headers, timeout=self._timeout, connector=connector
            )
        return self._session

    async def call(
        self, method: str, path: str, *, body: Any = None, params: Mapping[str, Any] | None = None
    ) -> Any:
        """One API request; the decoded JSON answer, or the NoETL error the server reported."""
        content = None if body is None else _encode(body)
        headers = {"content-type": "application/json"} if content is not None else None
        response = await self.send(method, path, content=content, params=params, headers=headers)
        return response.json() if response.content else None  # 204 has no body

    async def send(
        self,
        method: str,
        path: str,
        *,
        content: bytes | None = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        """One API request with a raw body; the successful response, or the NoETL error."""
        query = None if params is None else _query(params)
        try:
            async with self._http().request(
                method,
                self.base_url + API + path,
                data=_body(content),
                params=query,
                headers=headers,
            ) as response:
                body = await response.read()
                answer = Answer(response.status, body, response.headers.get("content-type", ""))
                reason = response.reason or ""
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise RemoteError(
                f"cannot reach the NoETL server at {self.base_url}: {_why(exc)}",
                sent=not isinstance(exc, aiohttp.ClientConnectorError),
            ) from None
        if 200 <= answer.status < 300:
            return answer
        raise _error(method, path, answer, reason, self.base_url)

    async def start(
        self, *, idempotency_key: str | None = None, patience: float = START_PATIENCE, **body: Any
    ) -> str:
        """Start an execution (`path`/`version` or `playbook`, `payload`); its id.

        The request carries an `Idempotency-Key` (a fresh one per call unless given) and is
        sent again with the same key while the answer is lost or a 5xx, for up to `patience`
        seconds: a start whose first try went through is found, never made twice. A server that
        cannot be connected to at the first try fails at once (nothing was sent)."""
        given = {k: v for k, v in body.items() if v is not None}
        headers = {
            "content-type": "application/json",
            "Idempotency-Key": idempotency_key or f"start-{secrets.token_urlsafe(24)}",
        }
        content = _encode(given)
        tries = 0

        async def send() -> Answer:
            nonlocal tries
            tries += 1
            return await self.send("POST", "/executions", content=content, headers=headers)

        def transient(exc: RemoteError) -> bool:
            return unavailable(exc) and (exc.sent or tries > 1)

        answer = await retrying(send, patience, transient=transient)
        return str(answer.json()["execution_id"])

    async def wait(self, execution_id: str, *, poll: float = 0.1) -> dict[str, Any]:
        """Wait until the execution has ended (server long-polls); its final summary.

        `poll` is only the pause after an answer that came back early (a server restart).
        """
        while True:
            summary: dict[str, Any] = await self.call(
                "GET", f"/executions/{execution_id}", params={"wait": LONG_POLL}
            )
            if summary["status"] != RUNNING:
                return summary
            await asyncio.sleep(poll)

    async def playbook_source(self, execution_id: str) -> str:
        """The YAML an execution was started with."""
        return str((await self.call("GET", f"/executions/{execution_id}/playbook"))["source"])

    async def post_events(
        self,
        events: Sequence[tuple[Event, str]],
        *,
        pool: str | None = None,
        take: int = 0,
        worker_id: str = "",
    ) -> list[dict[str, Any]]:
        """Report a batch of events, each with the claim token of its command (a command this
        worker does not hold is refused: ConflictError); the up to `take` next commands of
        `pool` handed back, each `{command, scope, playbook, lease, claim_token}`."""
        body = _RawEvents(events, pool, take, worker_id)
        answer = await self.call("POST", "/events", body=body)
        return list(answer.get("handed", []))

    async def renew(self, held: Sequence[tuple[str, str, str]]) -> None:
        """Keep the leases of held commands, as (execution id, command id, claim token)."""
        body = {
            "held": [{"execution_id": e, "command_id": c, "claim_token": t} for e, c, t in held]
        }
        await self.call("POST", "/commands/renew", body=body)

    async def claim(self, pointer: Pointer, attempt: int, worker: str) -> dict[str, Any]:
        """Claim a command: `{command, scope}`; ConflictError when someone else has it."""
        body: dict[str, Any] = {"execution_id": pointer.execution_id, "step": pointer.step}
        body.update(attempt=attempt, worker=worker)
        result: dict[str, Any] = await self.call(
            "POST", f"/commands/{pointer.command_id}/claim", body=body
        )
        return result

    async def claim_many(
        self, claims: Sequence[tuple[Pointer, int]], worker: str
    ) -> list[dict[str, Any] | None]:
        """Claim several commands in one request: per claim `{command, scope}` or None."""
        body = {
            "claims": [
                {
                    "command_id": p.command_id,
                    "execution_id": p.execution_id,
                    "step": p.step,
                    "attempt": attempt,
                    "worker": worker,
                }
                for p, attempt in claims
            ]
        }
        answer = await self.call("POST", "/commands/claim", body=body)
        return list(answer["claimed"])

    async def put_result(self, execution_id: str, body: bytes, content_type: str) -> dict[str, Any]:
        """Upload a large result as raw bytes; its ResultRef wrapper (stamped by the server)."""
        path = f"/executions/{quote(execution_id, safe='')}/results"
        headers = {"content-type": content_type}
        response = await self.send("PUT", path, content=body, headers=headers)
        ref: dict[str, Any] = response.json()
        return ref

    async def result(self, key: str) -> tuple[bytes, str]:
        """The raw bytes stored under `key` and their content type."""
        response = await self.send("GET", f"/results/{quote(key, safe='/')}")
        return response.content, response.content_type


def unavailable(exc: RemoteError) -> bool:
    """Whether an error may pass by itself: no answer (a restart), or a 5xx."""
    return exc.status is None or exc.status >= 500


async def retrying(
    call: Callable[[], Awaitable[T]],
    patience: float,
    stopped: Callable[[], bool] = lambda: False,
    *,
    transient: Callable[[RemoteError], bool] = unavailable,
) -> T:
    """`call()`, retried with backoff for `patience` seconds while it fails with an error that
    is `transient` (by default: the server is unreachable or failing), unless `stopped()`;
    other errors at once."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + patience
    delay = 0.05
    while True:
        try:
            return await call()
        except RemoteError as exc:
            if not transient(exc) or stopped() or loop.time() + delay > deadline:
                raise
            log.warning("server unavailable, retrying in %.2f s: %s", delay, exc)
        await asyncio.sleep(delay)
        delay = min(delay * 2, 1.0)


@dataclass(frozen=True)
class _RawEvents:
    """An event batch, encoded with the events' own codec (it knows their non-JSON values)."""

    events: Sequence[tuple[Event, str]]  # each with its command's claim token
    pool: str | None = None
    take: int = 0
    worker_id: str = ""


def _encode(body: Any) -> bytes:
    if isinstance(body, _RawEvents):
        # The whole report in one call of one encoder: an event at a time (`json.dumps` with
        # options builds an encoder per call) was a sixth of a worker's CPU in a loop.
        report: dict[str, Any] = {
            "events": [{**e.to_dict(), "claim_token": token} for e, token in body.events]
        }
        if body.take:
            report.update(pool=body.pool, take=body.take)
        if body.worker_id:
            report["worker_id"] = body.worker_id
        return _EVENTS.encode(report).encode()
    return json.dumps(body, separators=(",", ":"), default=str).encode()


_EVENTS = json.JSONEncoder(separators=(",", ":"), default=_json_default)  # the events' codec


def _why(exc: Exception) -> str:
    """Why a request got no answer, in the words of the OS where there are some."""
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"{exc.os_error.strerror or exc.os_error}"
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    if isinstance(exc, aiohttp.ClientResponseError):
        # The parser's message quotes what came back (a whole banner of another protocol).
        first = str(exc.message).strip().splitlines()[:1] or [""]
        return f"its answer is not HTTP ({first[0].rstrip(':')})"
    return f"{type(exc).__name__} {exc}".strip()


def _error(method: str, path: str, response: Answer, reason: str, base_url: str) -> Exception:
    """The NoETL error behind an error response (its `{"error": {...}}` body)."""
    try:
        detail = response.json().get("error")
    except (ValueError, AttributeError):
        detail = None
    status = response.status
    if not isinstance(detail, dict) or not detail.get("message"):
        # Not a NoETL server's answer (every error of one has this body): a web server or a
        # proxy at that URL. Say so, rather than pass on its words ("File not found") as ours.
        message = (
            f"{method} {base_url}{API}{path}: HTTP {status} {reason}".rstrip()
            + f", not an answer of a NoETL server (is {base_url} the server's URL?)"
        )
        return NotFoundError(message) if status == 404 else RemoteError(message, status=status)
    message = str(detail["message"])
    if status == 404:
        return NotFoundError(message)
    if status == 409:
        return ConflictError(message)
    if status == 422 and detail.get("problems"):
        return PlaybookError([Problem(**p) for p in detail["problems"]])
    return RemoteError(f"{method} {API}{path}: HTTP {status}: {message}", status=status)


def _query(params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Query parameters as text; a list value repeats its name (`type=a&type=b`)."""
    return [
        (name, str(item))
        for name, value in params.items()
        for item in (value if isinstance(value, list) else [value])
    ]


def _body(content: bytes | None) -> bytes | io.BytesIO | None:
    """A request body as aiohttp sends it best: a large one (a large result) as a stream, which
    aiohttp writes in chunks; raw bytes that size would hold the event loop while copied."""
    if content is not None and len(content) > STREAMED_BODY:
        return io.BytesIO(content)
    return content
