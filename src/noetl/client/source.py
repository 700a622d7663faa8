"""The workers' `CommandSource` in distributed mode, served by a NoETL server through
`ServerClient`.

`RemoteSource` is what a worker process claims commands from: the same protocol the embedded
workers use with the in-process control plane, so the worker pool code is the same in both modes.
While the server is unreachable (restarting, say) it keeps retrying with backoff: a worker must
not lose a command's events because the server blinked.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from noetl.bus.port import Pointer
from noetl.client.transport import ServerClient, retrying
from noetl.dsl.load import load_playbook
from noetl.engine.commands import Command
from noetl.engine.definition import PlaybookDef
from noetl.engine.events import Event
from noetl.errors import ConflictError, NotFoundError
from noetl.worker.source import WorkItem

log = logging.getLogger(__name__)
T = TypeVar("T")


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
        lease, trace = answer.get("lease"), str(answer.get("trace") or "")
        token = str(answer.get("claim_token") or "")
        return WorkItem(playbook, command, answer["scope"], lease=lease, token=token, trace=trace)

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
        self, events: Sequence[Event], token: str, *, pool: str | None = None, take: int = 0
    ) -> list[WorkItem]:
        """Report a command's events with its claim `token`; waits out a server restart (or a
        503: the server could not write them) rather than lose them. Up to `take` next
        commands of `pool` come back, handed to this worker to run now.

        Reports that come in while one is being sent go together in the next request, so a
        busy worker makes one request for many commands (it returns once its own are stored).
        """
        claimed = [(e, token) for e in events]
        report = _Report(claimed, pool, take, asyncio.get_running_loop().create_future())
        self._outbox.append(report)
        if self._sender is None or self._sender.done():
            self._sender = asyncio.get_running_loop().create_task(self._send_outbox())
        return [await self._item(answer) for answer in await report.done]

    async def renew(self, held: Sequence[tuple[str, str, str]]) -> None:
        """Keep the leases of held commands (one try: the next beat retries)."""
        await self.client.renew(held)

    async def _send_outbox(self) -> None:
        while self._outbox:
            pool = self._outbox[0].pool  # one request per pool (a worker process has one)
            batch, self._outbox = _next_batch(self._outbox, pool)
            take = sum(r.take for r in batch)
            try:
                handed = await self._post([e for r in batch for e in r.events], pool, take)
            except (NotFoundError, ConflictError):
                # One execution is gone, or one command is no longer this worker's: the
                # others' events must still get through.
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
        self, events: Sequence[tuple[Event, str]], pool: str | None, take: int
    ) -> list[dict[str, Any]]:
        return await self._retrying(
            lambda: self.client.post_events(events, pool=pool, take=take, worker_id=self.worker)
        )

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


def _next_batch(outbox: list[_Report], pool: str | None) -> tuple[list[_Report], list[_Report]]:
    """The reports of `pool` to post in one request, and those left for the next.

    A command may be reported under two claims at once: its first report waited (the server
    answering 503) until its lease ran out, and this worker claimed it again. The server refuses
    a request naming one command with two claim tokens (422), which would fail every report in
    it, so the later one waits for the next request (where the stale one has been refused).
    """
    tokens: dict[str, str] = {}
    batch: list[_Report] = []
    rest: list[_Report] = []
    for report in outbox:
        commands = {event.command_id or "": token for event, token in report.events}
        if report.pool == pool and all(tokens.get(c, t) == t for c, t in commands.items()):
            tokens.update(commands)
            batch.append(report)
        else:
            rest.append(report)
    return batch, rest


async def _settle(
    done: asyncio.Future[list[dict[str, Any]]], posting: Awaitable[list[dict[str, Any]]]
) -> None:
    """Resolve `done` with how `posting` went; events of a vanished execution, or of a command
    this worker no longer holds (its lease ran out and another claim replaced it, or the
    report was already stored before an answer got lost), are dropped."""
    try:
        handed = await posting
    except (NotFoundError, ConflictError) as exc:  # nobody needs these events
        log.warning("dropped events: %s", exc)
        handed = []
    except Exception as exc:
        done.set_exception(exc)
        return
    done.set_result(handed)


@dataclass
class _Report:
    """A command's events waiting to be posted, with the worker's offer to run more."""

    events: Sequence[tuple[Event, str]]  # each with the claim token of its command
    pool: str | None
    take: int
    done: asyncio.Future[list[dict[str, Any]]] = field(repr=False)
