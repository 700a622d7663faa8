"""Talking to a NoETL server over HTTP: the API client, and the workers' `CommandSource`.

`ServerClient` is the one place that knows the REST API's paths and error bodies; it turns them
back into NoETL errors (404 -> NotFoundError, 409 -> ConflictError, 422 with problems ->
PlaybookError, anything else or no answer -> RemoteError). The CLI's `--server` commands and
distributed workers both use it.

`RemoteSource` is what a worker process claims commands from: the same protocol the embedded
workers use with the in-process control plane, so the worker pool code is the same in both modes.
While the server is unreachable (restarting, say) it keeps retrying with backoff: a worker must
not lose a command's events because the server blinked.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from noetl.bus.port import Pointer
from noetl.dsl.load import load_playbook
from noetl.engine.commands import Command
from noetl.engine.definition import PlaybookDef
from noetl.engine.events import Event
from noetl.errors import (
    ConflictError,
    NotFoundError,
    PlaybookError,
    Problem,
    RemoteError,
)
from noetl.runtime.live import WorkItem
from noetl.store.port import ExecutionSummary

log = logging.getLogger(__name__)
T = TypeVar("T")
API = "/api/v2"
RUNNING = "running"


LONG_POLL = 20.0  # seconds a wait request is held by the server before it answers "running"


class ServerClient:
    """Async client of one server's REST API."""

    def __init__(self, base_url: str, *, token: str | None = None, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.AsyncClient(
            base_url=self.base_url + API, headers=headers, timeout=timeout
        )

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

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
    ) -> httpx.Response:
        """One API request with a raw body; the successful response, or the NoETL error."""
        try:
            response = await self._http.request(
                method, path, content=content, params=params, headers=headers
            )
        except httpx.TransportError as exc:
            raise RemoteError(
                f"cannot reach the NoETL server at {self.base_url}: {type(exc).__name__} {exc}"
            ) from None
        if response.is_success:
            return response
        raise _error(method, path, response)

    async def health(self) -> dict[str, Any]:
        """GET /health."""
        result: dict[str, Any] = await self.call("GET", "/health")
        return result

    async def register(self, content: str, *, path: str | None = None) -> dict[str, Any]:
        """Register a playbook in the catalog; the entry (`created` false when unchanged)."""
        body = {"content": content} if path is None else {"content": content, "path": path}
        result: dict[str, Any] = await self.call("POST", "/catalog", body=body)
        return result

    async def start(self, **body: Any) -> str:
        """Start an execution (`path`/`version` or `playbook`, `payload`); its id."""
        given = {k: v for k, v in body.items() if v is not None}
        return str((await self.call("POST", "/executions", body=given))["execution_id"])

    async def execution(self, execution_id: str) -> dict[str, Any]:
        """One execution's summary."""
        result: dict[str, Any] = await self.call("GET", f"/executions/{execution_id}")
        return result

    async def executions(
        self, *, status: str | None = None, limit: int = 50, offset: int = 0
    ) -> list[dict[str, Any]]:
        """Executions, newest first."""
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if status is not None:
            params["status"] = status
        answer = await self.call("GET", "/executions", params=params)
        return list(answer["executions"])

    async def events(self, execution_id: str, *, page: int = 1000) -> list[dict[str, Any]]:
        """Every event of an execution, in order (fetched page by page)."""
        found: list[dict[str, Any]] = []
        while True:
            params = {"after_seq": found[-1]["seq"] if found else 0, "limit": page}
            answer = await self.call("GET", f"/executions/{execution_id}/events", params=params)
            found.extend(answer["events"])
            if len(answer["events"]) < page:
                return found

    async def cancel(self, execution_id: str) -> dict[str, Any]:
        """Ask a running execution to stop."""
        result: dict[str, Any] = await self.call("POST", f"/executions/{execution_id}/cancel")
        return result

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
        self, events: Sequence[Event], *, pool: str | None = None, take: int = 0
    ) -> list[dict[str, Any]]:
        """Report a batch of events (duplicates are dropped by the server's log); the up to
        `take` next commands of `pool` handed back, each `{command, scope, playbook, lease}`."""
        answer = await self.call("POST", "/events", body=_RawEvents(events, pool, take))
        return list(answer.get("handed", []))

    async def renew(self, held: Sequence[tuple[str, str]]) -> None:
        """Keep the leases of handed-off commands, as (execution id, command id)."""
        body = {"held": [{"execution_id": e, "command_id": c} for e, c in held]}
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
        return response.content, response.headers.get("content-type", "")


class RemoteSource:
    """The workers' `CommandSource` in distributed mode: claims and reports through the server."""

    def __init__(
        self,
        client: ServerClient,
        *,
        worker: str | None = None,
        patience: float = 300.0,
        cached_playbooks: int = 256,
    ) -> None:
        self.client = client
        self.worker = worker or f"{socket.gethostname()}:{os.getpid()}"
        self.patience = patience  # seconds to keep retrying while the server is unreachable
        self._playbooks: OrderedDict[str, PlaybookDef] = OrderedDict()
        self._cache_size = cached_playbooks
        self._closed = False
        self._outbox: list[_Report] = []
        self._sender: asyncio.Task[None] | None = None
        self._claims: list[tuple[Pointer, int, asyncio.Future[dict[str, Any] | None]]] = []
        self._claimer: asyncio.Task[None] | None = None

    async def claim(self, pointer: Pointer, attempt: int = 1) -> WorkItem | None:
        """The command to run, or None when it is finished, claimed elsewhere or unknown.

        Claims asked for while one request is out go together in the next one.
        """
        asked: asyncio.Future[dict[str, Any] | None] = asyncio.get_running_loop().create_future()
        self._claims.append((pointer, attempt, asked))
        if self._claimer is None or self._claimer.done():
            self._claimer = asyncio.get_running_loop().create_task(self._send_claims())
        answer = await asked
        return None if answer is None else await self._item(answer)

    async def _item(self, answer: dict[str, Any]) -> WorkItem:
        """A claimed or handed-off command, with its playbook, as the worker runs it."""
        command = Command.from_dict(answer["command"])
        playbook = await self._playbook(command.execution_id, answer.get("playbook") or "")
        return WorkItem(playbook, command, answer["scope"], lease=answer.get("lease"))

    async def _send_claims(self) -> None:
        while self._claims:
            batch, self._claims = self._claims, []
            try:
                answers = await self._claim_batch([(p, attempt) for p, attempt, _ in batch])
            except Exception as exc:
                for _, _, asked in batch:
                    asked.set_exception(exc)
                continue
            for (_, _, asked), answer in zip(batch, answers, strict=True):
                asked.set_result(answer)

    async def report(
        self, events: Sequence[Event], *, pool: str | None = None, take: int = 0
    ) -> list[WorkItem]:
        """Report a command's events; waits out a server restart rather than lose them. Up to
        `take` next commands of `pool` come back, handed to this worker to run now.

        Reports that come in while one is being sent go together in the next request, so a
        busy worker makes one request for many commands (it returns once its own are stored).
        """
        report = _Report(events, pool, take, asyncio.get_running_loop().create_future())
        self._outbox.append(report)
        if self._sender is None or self._sender.done():
            self._sender = asyncio.get_running_loop().create_task(self._send_outbox())
        return [await self._item(answer) for answer in await report.done]

    async def renew(self, held: Sequence[tuple[str, str]]) -> None:
        """Keep the leases of handed-off commands (one try: the next beat retries)."""
        await self.client.renew(held)

    async def _send_outbox(self) -> None:
        while self._outbox:
            pool = self._outbox[0].pool  # one request per pool (a worker process has one)
            batch = [r for r in self._outbox if r.pool == pool]
            self._outbox = [r for r in self._outbox if r.pool != pool]
            take = sum(r.take for r in batch)
            try:
                handed = await self._post([e for r in batch for e in r.events], pool, take)
            except NotFoundError:
                # One of the executions is gone: the others' events must still get through.
                for report in batch:
                    await _settle(report.done, self._post(report.events, pool, report.take))
                continue
            except Exception as exc:
                for report in batch:
                    report.done.set_exception(exc)
                continue
            for report in batch:
                report.done.set_result(handed[: report.take])
                handed = handed[report.take :]

    async def _claim_batch(self, wanted: list[tuple[Pointer, int]]) -> list[dict[str, Any] | None]:
        return await self._retrying(lambda: self.client.claim_many(wanted, self.worker))

    async def _post(
        self, events: Sequence[Event], pool: str | None, take: int
    ) -> list[dict[str, Any]]:
        return await self._retrying(lambda: self.client.post_events(events, pool=pool, take=take))

    async def close(self) -> None:
        """Stop retrying and close the HTTP client."""
        self._closed = True
        await self.client.aclose()

    async def _playbook(self, execution_id: str, digest: str) -> PlaybookDef:
        """The execution's playbook: cached by source digest (executions of one playbook share
        it), fetched from the server the first time."""
        key = digest or execution_id
        playbook = self._playbooks.get(key)
        if playbook is None:
            source = await self._retrying(lambda: self.client.playbook_source(execution_id))
            playbook = load_playbook(source)
            self._playbooks[key] = playbook
            while len(self._playbooks) > self._cache_size:
                self._playbooks.popitem(last=False)
        else:
            self._playbooks.move_to_end(key)
        return playbook

    async def _retrying(self, call: Callable[[], Awaitable[T]]) -> T:
        return await retrying(call, self.patience, lambda: self._closed)


async def retrying(
    call: Callable[[], Awaitable[T]], patience: float, stopped: Callable[[], bool] = lambda: False
) -> T:
    """`call()`, retried with backoff for `patience` seconds while the server is unreachable or
    failing (5xx), unless `stopped()`; other errors at once."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + patience
    delay = 0.05
    while True:
        try:
            return await call()
        except RemoteError as exc:
            retryable = exc.status is None or exc.status >= 500
            if not retryable or stopped() or loop.time() + delay > deadline:
                raise
            log.warning("server unavailable, retrying in %.2f s: %s", delay, exc)
        await asyncio.sleep(delay)
        delay = min(delay * 2, 1.0)


async def _settle(
    done: asyncio.Future[list[dict[str, Any]]], posting: Awaitable[list[dict[str, Any]]]
) -> None:
    """Resolve `done` with how `posting` went; events of a vanished execution are dropped."""
    try:
        handed = await posting
    except NotFoundError as exc:  # the execution is gone: nobody needs these events
        log.warning("dropped events: %s", exc)
        handed = []
    except Exception as exc:
        done.set_exception(exc)
        return
    done.set_result(handed)


@dataclass
class _Report:
    """A command's events waiting to be posted, with the worker's offer to run more."""

    events: Sequence[Event]
    pool: str | None
    take: int
    done: asyncio.Future[list[dict[str, Any]]] = field(repr=False)


class RemoteEventLog:
    """The read side of the event store, served by a server (the CLI's `--server` commands)."""

    def __init__(self, client: ServerClient) -> None:
        self.client = client

    async def list_executions(
        self, *, status: str | None = None, limit: int = 50, offset: int = 0
    ) -> list[ExecutionSummary]:
        """Executions, newest started first."""
        rows = await self.client.executions(status=status, limit=limit, offset=offset)
        return [ExecutionSummary(**row) for row in rows]

    async def get_execution(self, execution_id: str) -> ExecutionSummary:
        """One execution's summary; NotFoundError when unknown."""
        return ExecutionSummary(**await self.client.execution(execution_id))

    async def read(
        self, execution_id: str, *, after_seq: int = 0, limit: int | None = None
    ) -> list[Event]:
        """Every event of the execution (`after_seq`/`limit` as in the store port)."""
        found = [Event.from_dict(e) for e in await self.client.events(execution_id)]
        found = [e for e in found if (e.seq or 0) > after_seq]
        return found if limit is None else found[:limit]


@dataclass(frozen=True)
class _RawEvents:
    """An event batch, encoded with the events' own codec (it knows their non-JSON values)."""

    events: Sequence[Event]
    pool: str | None = None
    take: int = 0


def _encode(body: Any) -> bytes:
    if isinstance(body, _RawEvents):
        offer = f',"pool":{json.dumps(body.pool)},"take":{body.take}' if body.take else ""
        return (
            '{"events":[' + ",".join(e.to_json() for e in body.events) + "]" + offer + "}"
        ).encode()
    return json.dumps(body, separators=(",", ":"), default=str).encode()


def _error(method: str, path: str, response: httpx.Response) -> Exception:
    """The NoETL error behind an error response (its `{"error": {...}}` body)."""
    try:
        detail = response.json().get("error", {})
    except (ValueError, AttributeError):
        detail = {}
    message = str(detail.get("message") or response.reason_phrase or "error")
    status = response.status_code
    if status == 404:
        return NotFoundError(message)
    if status == 409:
        return ConflictError(message)
    if status == 422 and detail.get("problems"):
        return PlaybookError([Problem(**p) for p in detail["problems"]])
    return RemoteError(f"{method} {API}{path}: HTTP {status}: {message}", status=status)
