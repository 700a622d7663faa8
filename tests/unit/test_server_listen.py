"""The server's listening socket: connections accepted on it have Nagle turned off.

`noetl server start` binds its port itself (`noetl.cli.server.listen`) and hands the socket to
uvicorn. asyncio sets TCP_NODELAY only on sockets whose protocol is IPPROTO_TCP, and accepted
connections inherit the listening socket's protocol; with Nagle on, every response uvicorn
writes in two parts (head, then body) waited for the client's delayed ACK, a 20-40 ms floor on
each step of a distributed chain (benchmarks/distributed.py, case `chain`). These tests check
the socket option, never a duration.
"""

from __future__ import annotations

import asyncio
import socket

import pytest

from noetl.cli.server import listen
from noetl.errors import ConfigError


async def _accepted_nodelay(listening: socket.socket) -> int:
    """TCP_NODELAY of a connection accepted on `listening` by an asyncio server (as uvicorn
    serves the sockets it is given)."""
    accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    class Probe(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            sock = transport.get_extra_info("socket")
            accepted.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

    server = await asyncio.get_running_loop().create_server(Probe, sock=listening)
    host, port = listening.getsockname()[:2]
    _, writer = await asyncio.open_connection(host, port)
    try:
        return await asyncio.wait_for(accepted, 10)
    finally:
        writer.close()
        await writer.wait_closed()
        server.close()
        await server.wait_closed()


def test_connections_accepted_by_the_server_have_nagle_off() -> None:
    listening = listen("127.0.0.1", 0)  # the asyncio server closes it
    assert asyncio.run(_accepted_nodelay(listening)) == 1


def test_a_port_in_use_is_a_config_error_naming_host_and_port() -> None:
    taken = listen("127.0.0.1", 0)
    try:
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match=f"cannot listen on 127.0.0.1:{port}"):
            listen("127.0.0.1", port)
    finally:
        taken.close()
