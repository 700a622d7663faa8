"""A deadline on each request's head for uvicorn, which has none.

uvicorn's `timeout_keep_alive` covers an idle kept-alive connection only until the next
request's first byte, and nothing covers a new connection: a client that opens connections and
trickles header bytes (slowloris) held each for ever. The app's body deadline cannot help, as
the app sees a request only once its head is complete. Imported only when a server starts.
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

_TIMED_OUT = b"request head not received in time"
_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"connection: close\r\ncontent-length: %d\r\n\r\n%s" % (len(_TIMED_OUT), _TIMED_OUT)
)


class HeaderDeadline(HttpToolsProtocol):
    """uvicorn's HTTP protocol (httptools) closing a connection whose request head does not
    arrive within `deadline` seconds of the connection opening, or of the request's first
    byte (as nginx's `client_header_timeout`): answered `408` when part of a head came and no
    response is under way on it; a connection that sent nothing is closed without a word, as
    an idle kept-alive one is (a browser's unused preconnection must not read a 408)."""

    deadline = 10.0
    timer: asyncio.TimerHandle | None = None
    head_started = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Start the clock: a connection that sends nothing is closed too."""
        super().connection_made(transport)  # type: ignore[arg-type]
        self._arm()

    def on_message_begin(self) -> None:
        """A request's first byte (a kept-alive connection's next request): the clock runs."""
        super().on_message_begin()
        self.head_started = True
        self._arm()

    def on_headers_complete(self) -> None:
        """The head is complete: the app takes over (its body deadline, its response)."""
        self._disarm()
        self.head_started = False
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        """Stop the clock of a closed connection."""
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self.timer is None:
            self.timer = self.loop.call_later(self.deadline, self._timed_out)

    def _disarm(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _timed_out(self) -> None:
        self.timer = None
        if self.transport.is_closing():
            return
        idle = self.cycle is None or self.cycle.response_complete  # never inside a response
        if self.head_started and idle:
            self.transport.write(_RESPONSE)
        self.transport.close()


def header_deadline_protocol(deadline: float) -> type[asyncio.Protocol]:
    """The protocol class for `uvicorn.Config(http=...)` with `deadline` seconds per head."""
    return type("HeaderDeadline", (HeaderDeadline,), {"deadline": deadline})
