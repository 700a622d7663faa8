"""A real uvicorn serving the NoETL app in a thread (API tests and the remote result store)."""

from __future__ import annotations

import threading
import time

import httpx
import uvicorn

from noetl.config import Settings
from noetl.runtime.assemble import open_server
from noetl.runtime.assembled import ServerRuntime
from noetl.server import create_app
from noetl.server.app import BODY_DEADLINE


class LiveServer:
    """uvicorn serving the app in a thread with its own event loop."""

    def __init__(
        self,
        settings: Settings,
        max_body: int = 64 * 1024,
        port: int = 0,
        local_workers: int = 0,
        body_deadline: float = BODY_DEADLINE,
    ) -> None:
        """`local_workers` > 0: workers inside the server run the commands (as `noetl server
        start` without --nats); else the test claims and runs them itself."""

        async def opener(settings: Settings) -> ServerRuntime:
            return await open_server(settings, local_workers=local_workers)

        app = create_app(settings, max_body=max_body, opener=opener, body_deadline=body_deadline)
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "server did not start"
            time.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(20)


def api_client(server: LiveServer, token: str | None) -> httpx.Client:
    """A synchronous client of the server's `/api/v2`, sending `token` as bearer when given."""
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=server.url + "/api/v2", headers=headers, timeout=20)
