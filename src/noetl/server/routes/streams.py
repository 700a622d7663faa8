"""Server-Sent Events of the log: one execution's events, and changes to the executions list.

Streams wait on the server's `Feed` (woken when events are written), never on a timer loop
against the store. An execution's stream sends its events in batches, each message's `id` the
last seq in it, so a client that reconnects with `Last-Event-ID` (or `?after_seq=`) resumes
exactly where it stopped; it ends with an `end` message once the execution has ended and every
event was sent. The list stream sends the summary of each execution that changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Query, Request
from fastapi.responses import StreamingResponse

from noetl.errors import NotFoundError
from noetl.server.feed import KEEPALIVE, Feed
from noetl.server.routes import RuntimeDep
from noetl.store.port import RUNNING

router = APIRouter(tags=["streams"])

BATCH = 2000  # events per message at most
COALESCE = 0.2  # seconds the list stream gathers changes before it sends them
MAX_CHANGED = 200  # summaries per list message (the newest ones first; a page shows 50)
_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


@router.get("/executions/stream", summary="Stream changes of the executions list (SSE)")
async def list_stream(request: Request, runtime: RuntimeDep) -> StreamingResponse:
    """`event: execution` with an execution's summary each time it starts, moves or ends."""
    feed: Feed = request.app.state.feed
    return StreamingResponse(
        _list_messages(runtime, feed), media_type="text/event-stream", headers=_HEADERS
    )


@router.get("/executions/{execution_id}/events/stream", summary="Stream an execution's events")
async def events_stream(
    execution_id: str,
    request: Request,
    runtime: RuntimeDep,
    after_seq: Annotated[int, Query(ge=0)] = 0,
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    """`event: events` with a JSON array of events (id: the last seq); `event: end` at the end.

    Resumes after `Last-Event-ID` when the client sends one (a reconnect), else `after_seq`.
    """
    await runtime.store.get_execution(execution_id)  # unknown -> 404 before streaming
    after = after_seq
    if last_event_id is not None:
        if not last_event_id.isdigit():
            raise HTTPException(422, f"Last-Event-ID: {last_event_id!r} is not a seq")
        after = int(last_event_id)
    feed: Feed = request.app.state.feed
    messages = _log_messages(runtime, feed, execution_id, after)
    return StreamingResponse(messages, media_type="text/event-stream", headers=_HEADERS)


async def _log_messages(
    runtime: Any, feed: Feed, execution_id: str, after: int
) -> AsyncIterator[str]:
    with feed.watch_execution(execution_id) as wake:
        yield "retry: 2000\n\n"
        while not feed.closed:
            wake.clear()  # before reading: an event written while we read wakes the next wait
            # The status is read before the events: when it says ended, the read has them all.
            ended = (await runtime.store.get_execution(execution_id)).status != RUNNING
            batch = await runtime.store.read(execution_id, after_seq=after, limit=BATCH)
            if batch:
                after = batch[-1].seq
                data = json.dumps([e.to_dict() for e in batch], default=str)
                yield f"id: {after}\nevent: events\ndata: {data}\n\n"
            if len(batch) == BATCH:
                continue
            if ended:
                yield f"id: {after}\nevent: end\ndata: {{}}\n\n"
                return
            if not await _woken(wake):
                yield ": keepalive\n\n"


async def _woken(wake: asyncio.Event) -> bool:
    """Wait for `wake`; False when `KEEPALIVE` seconds passed first."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(wake.wait(), KEEPALIVE)
        return True
    return False


async def _list_messages(runtime: Any, feed: Feed) -> AsyncIterator[str]:
    with feed.watch_list() as watch:
        yield "retry: 2000\n\n"
        while not feed.closed:
            if not await _woken(watch.wake):
                yield ": keepalive\n\n"
                continue
            if feed.closed:
                return
            await asyncio.sleep(COALESCE)  # a busy server sends one message per burst
            changed = sorted(watch.take(), reverse=True)[:MAX_CHANGED]
            summaries = []
            for execution_id in changed:
                with contextlib.suppress(NotFoundError):
                    summaries.append((await runtime.store.get_execution(execution_id)).to_dict())
            if summaries:
                yield f"event: executions\ndata: {json.dumps(summaries, default=str)}\n\n"
