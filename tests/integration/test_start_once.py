"""A start the client sends again never makes two executions (D4): `ServerClient.start` (behind
`noetl execute`, the Python API and child playbooks) sends an `Idempotency-Key` and sends the
same key again when the answer is lost. A real server behind a proxy that drops the connection
after the server answered the first start."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from noetl.client.transport import ServerClient
from noetl.config import Settings
from noetl.errors import RemoteError
from support.live_server import LiveServer

NOETL = str(Path(sys.executable).with_name("noetl"))
ONE_STEP = """\
apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: once}
workflow:
  - step: start
"""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    with LiveServer(Settings(home=tmp_path, db=tmp_path / "noetl.db"), local_workers=1) as live:
        yield live


class LosingProxy:
    """Forwards every request to `upstream`; the first `lose` starts reach the server, but
    their answers are lost (the connection is dropped once the server has answered)."""

    def __init__(self, upstream: str, lose: int = 1) -> None:
        self.upstream = upstream
        self.lose = lose
        self.keys: list[str | None] = []  # the Idempotency-Key of every start, in order

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host",)}
        async with (
            aiohttp.ClientSession() as session,
            session.request(
                request.method, self.upstream + request.rel_url.path_qs, data=body, headers=headers
            ) as answer,
        ):
            content = await answer.read()
            status, kind = answer.status, answer.content_type
        if request.method == "POST" and request.path == "/api/v2/executions":
            self.keys.append(request.headers.get("Idempotency-Key"))
            if len(self.keys) <= self.lose:
                assert request.transport is not None
                request.transport.close()  # the server has started it; the client never hears
        return web.Response(status=status, body=content, content_type=kind)


@asynccontextmanager
async def losing_proxy(upstream: str, lose: int = 1) -> AsyncIterator[tuple[str, LosingProxy]]:
    proxy = LosingProxy(upstream, lose)
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", proxy.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}", proxy
    finally:
        await runner.cleanup()


async def _executions(server: LiveServer) -> list[dict]:
    client = ServerClient(server.url)
    try:
        return await client.executions(limit=100)
    finally:
        await client.aclose()


def test_a_start_whose_answer_is_lost_is_sent_again_and_found(server: LiveServer):
    async def scenario():
        async with losing_proxy(server.url, lose=2) as (url, proxy):
            client = ServerClient(url)
            try:
                execution_id = await client.start(playbook=ONE_STEP)
                summary = await client.wait(execution_id)
            finally:
                await client.aclose()
            return execution_id, summary, proxy.keys, await _executions(server)

    execution_id, summary, keys, executions = asyncio.run(scenario())
    assert len(keys) == 3 and keys[0] and keys[0].startswith("start-")
    assert len(set(keys)) == 1  # one logical start, one key
    assert [e["execution_id"] for e in executions] == [execution_id]
    assert summary["status"] == "done"


def test_two_logical_starts_are_two_executions(server: LiveServer):
    async def scenario():
        client = ServerClient(server.url)
        try:
            return [await client.start(playbook=ONE_STEP) for _ in range(2)]
        finally:
            await client.aclose()

    first, second = asyncio.run(scenario())
    assert first != second


def test_a_server_that_cannot_be_connected_to_fails_the_start_at_once():
    async def scenario():
        client = ServerClient("http://127.0.0.1:9", timeout=5)  # nothing listens on port 9
        try:
            with pytest.raises(RemoteError, match="cannot reach") as raised:
                await client.start(playbook=ONE_STEP, patience=30)
        finally:
            await client.aclose()
        return raised.value.sent

    sent = asyncio.run(scenario())
    assert sent is False  # nothing was sent, so it was not retried (no 30 s of patience)


def test_noetl_execute_sends_a_lost_start_again_with_its_key(server: LiveServer, tmp_path):
    playbook = tmp_path / "once.yaml"
    playbook.write_text(ONE_STEP)
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOETL_")}

    async def scenario():
        async with losing_proxy(server.url) as (url, proxy):
            command = await asyncio.create_subprocess_exec(
                NOETL, "execute", str(playbook), "--server", url, "--json",
                env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            out, err = await asyncio.wait_for(command.communicate(), 120)
            return command.returncode, out.decode(), err.decode(), proxy.keys

    code, out, err, keys = asyncio.run(scenario())
    assert code == 0, err
    assert len(keys) == 2 and keys[0] == keys[1]
    executions = asyncio.run(_executions(server))
    assert len(executions) == 1 and executions[0]["execution_id"] in out, out
