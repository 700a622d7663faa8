"""A client that opens connections and trickles header bytes (slowloris) does not hold them:
`noetl server start` closes a connection whose request head has not arrived HEADER_DEADLINE
seconds after it opened (or after the request's first byte), answering 408 to a partial head,
while /health goes on answering. Raw sockets against the real server process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from noetl.cli.server import HEADER_DEADLINE
from noetl.devservers.processes import free_port

NOETL = str(Path(sys.executable).with_name("noetl"))


def _answer(conn: socket.socket, limit: float) -> bytes:
    """Everything the server sends until it closes the connection (or `limit` seconds)."""
    conn.settimeout(limit)
    received = b""
    try:
        while chunk := conn.recv(4096):
            received += chunk
    except TimeoutError:
        received += b"<still open>"
    return received


def _trickle(conn: socket.socket, stop: threading.Event) -> None:
    """One header byte a second, never the blank line that ends the head."""
    conn.sendall(b"GET /api/v2/health HTTP/1.1\r\nHost: x\r\n")
    while not stop.wait(1.0):
        try:
            conn.sendall(b"X")
        except OSError:
            return


def test_a_trickled_request_head_is_cut_at_the_deadline_and_health_still_answers(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOETL_")}
    command = [NOETL, "server", "start", "--port", str(port), "--home", str(tmp_path)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    stop = threading.Event()
    url = f"http://127.0.0.1:{port}/api/v2/health"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(url, timeout=1):
                    break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "no server"
                time.sleep(0.1)
        silent = socket.create_connection(("127.0.0.1", port))
        trickling = socket.create_connection(("127.0.0.1", port))
        kept = socket.create_connection(("127.0.0.1", port))  # a request, then a trickled one
        kept.sendall(b"GET /api/v2/health HTTP/1.1\r\nHost: x\r\n\r\n")
        first = b""
        while b'"status":"ok"' not in first:  # the whole first response, head and body
            first += kept.recv(4096)
        assert first.startswith(b"HTTP/1.1 200")
        opened = time.monotonic()
        threads = [threading.Thread(target=_trickle, args=(c, stop)) for c in (trickling, kept)]
        for thread in threads:
            thread.start()
        time.sleep(HEADER_DEADLINE / 2)
        with urllib.request.urlopen(url, timeout=5) as health:  # the server is not held up
            assert health.status == 200
        connections = (silent, trickling, kept)
        answers = [_answer(c, HEADER_DEADLINE * 2) for c in connections]
        for conn in connections:
            conn.close()
        waited = time.monotonic() - opened
        assert answers[0] == b""  # nothing asked, nothing answered: closed
        for answer in answers[1:]:
            assert answer.startswith(b"HTTP/1.1 408 Request Timeout"), answer[-200:]
            assert answer.endswith(b"request head not received in time"), answer[-200:]
        assert HEADER_DEADLINE / 2 < waited < HEADER_DEADLINE * 2
        with urllib.request.urlopen(url, timeout=5) as health:
            assert health.status == 200
    finally:
        stop.set()
        server.terminate()
        server.communicate(timeout=20)
