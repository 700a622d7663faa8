"""A real local HTTP server for tests: `http.server` on 127.0.0.1, serving in a thread.

Endpoints (any method unless noted):
- `/pages?page=N` -> JSON `{"page", "items", "hasMore"}`; pages 1..PAGES, PAGE_SIZE items each.
- `/flaky?key=K` -> 429 with `Retry-After: 0` the first two times for each key, then 200 JSON.
- `/slow?ms=N` -> waits N milliseconds, then 200 JSON.
- `/hang?key=K&ms=N` -> waits up to N milliseconds (default 60000) for the client to hang up,
  else answers 200 JSON; `hang_state(K)` says "waiting", "hung up" or "answered".
- `/status/CODE[?retry_after=V]` -> that status with a JSON body; `retry_after` sets the header.
- `/echo[?status=N]` -> JSON `{"method", "path", "headers", "query", "body"}` describing the
  request, with status N (default 200).
- `/text[?body=S]` -> `text/plain` (S, or "hello").
- `/redirect[?to=PATH]` -> 302 to PATH (default `/echo`).

Usage: `with LocalHttpServer.start() as server: httpx.get(server.url + "/echo")`.
"""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

PAGES = 3
PAGE_SIZE = 2
FLAKY_FAILURES = 2


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"  # keep-alive, like real services (exercises the client pool)

    def do_GET(self) -> None:
        self._route()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output clean."""

    def _route(self) -> None:
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path = parts.path
        try:
            if path == "/pages":
                self._pages(int(query.get("page", "1")))
            elif path == "/flaky":
                self._flaky(query.get("key", ""))
            elif path == "/slow":
                time.sleep(int(query.get("ms", "0")) / 1000)
                self._send(200, {"slept_ms": int(query.get("ms", "0"))})
            elif path == "/hang":
                self._hang(query.get("key", ""), int(query.get("ms", "60000")))
            elif path.startswith("/status/"):
                self._status(int(path.rsplit("/", 1)[1]), query.get("retry_after"))
            elif path == "/echo":
                self._echo(path, query, body)
            elif path == "/text":
                self._send(200, query.get("body", "hello").encode(), "text/plain; charset=utf-8")
            elif path == "/redirect":
                self._send(302, b"", "text/plain", {"Location": query.get("to", "/echo")})
            else:
                self._send(404, {"error": f"no such endpoint {path}"})
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (e.g. a timeout test); nothing to answer

    def _pages(self, page: int) -> None:
        first = (page - 1) * PAGE_SIZE
        items = [{"id": i, "name": f"item-{i}"} for i in range(first + 1, first + PAGE_SIZE + 1)]
        if not 1 <= page <= PAGES:
            items = []
        self._send(200, {"page": page, "items": items, "hasMore": page < PAGES})

    def _flaky(self, key: str) -> None:
        with self.server.lock:
            seen = self.server.flaky_calls.get(key, 0) + 1
            self.server.flaky_calls[key] = seen
        if seen <= FLAKY_FAILURES:
            self._send(429, {"error": "slow down", "attempt": seen}, extra={"Retry-After": "0"})
        else:
            self._send(200, {"ok": True, "attempt": seen})

    def _hang(self, key: str, ms: int) -> None:
        """Wait for the client to close the connection (a cancelled request) or for `ms`."""
        self._mark(key, "waiting")
        deadline = time.monotonic() + ms / 1000
        while time.monotonic() < deadline:
            readable, _, _ = select.select([self.connection], [], [], 0.05)
            try:
                gone = bool(readable) and not self.connection.recv(1, socket.MSG_PEEK)
            except OSError:  # reset by the client
                gone = True
            if gone:
                self._mark(key, "hung up")
                self.close_connection = True
                return
        self._mark(key, "answered")
        self._send(200, {"hung_ms": ms})

    def _mark(self, key: str, state: str) -> None:
        with self.server.lock:
            self.server.hangs[key] = state

    def _status(self, code: int, retry_after: str | None) -> None:
        extra = {"Retry-After": retry_after} if retry_after is not None else {}
        self._send(code, {"error": f"status {code} as requested"}, extra=extra)

    def _echo(self, path: str, query: dict[str, str], body: bytes) -> None:
        self._send(
            int(query.get("status", "200")),
            {
                "method": self.command,
                "path": path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "query": query,
                "body": body.decode("utf-8", errors="replace"),
            },
        )

    def _send(
        self,
        status: int,
        payload: Any,
        content_type: str = "application/json",
        extra: dict[str, str] | None = None,
    ) -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a slow handler must not hold up shutdown

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.flaky_calls: dict[str, int] = {}
        self.hangs: dict[str, str] = {}


class LocalHttpServer:
    """A running test server; `url` is its base address (no trailing slash)."""

    def __init__(self, server: _Server, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread
        host, port = server.server_address[:2]
        self.url = f"http://{host!s}:{port}"

    @classmethod
    def start(cls) -> LocalHttpServer:
        """Bind a free port on 127.0.0.1 and serve in a daemon thread."""
        server = _Server()
        thread = threading.Thread(target=server.serve_forever, name="test-http", daemon=True)
        thread.start()
        return cls(server, thread)

    def hang_state(self, key: str) -> str | None:
        """What became of the `/hang` request with `key`: "waiting", "hung up", "answered"."""
        with self._server.lock:
            return self._server.hangs.get(key)

    def stop(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> LocalHttpServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
