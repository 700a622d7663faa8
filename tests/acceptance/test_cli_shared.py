"""What every command shares: `--payload` then `--set` deep-merged for `run` and `execute`
alike, and `--server` on every read command (the same answers as the local store gives)."""

from __future__ import annotations

import http.server
import json
import socketserver
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from noetl.config import Settings
from support.live_server import LiveServer

MERGED = """
workload: {a: {x: 0, z: 9}}
workflow:
  - step: start
    tool: {kind: python, args: {a: "{{ workload.a }}"}, code: "result = a"}
"""
PAYLOAD = ("--payload", '{"a": {"x": 1}}', "--set", "a.y=2")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    """A server on its own SQLite file (no workers: executions stay running, which is enough
    to read what was started)."""
    folder = tmp_path / "server"
    folder.mkdir()
    with LiveServer(Settings(home=folder, db=folder / "noetl.db")) as live:
        yield live


def test_run_deep_merges_set_into_payload(cli):
    playbook = cli.write("merged", MERGED)
    assert cli.run(playbook, *PAYLOAD).result == {"x": 1, "y": 2, "z": 9}


def test_execute_deep_merges_set_into_payload(cli, server):
    playbook = cli.write("merged", MERGED)
    started = cli("execute", str(playbook), "--server", server.url, "--json", *PAYLOAD)
    assert started.returncode == 0, started.stderr
    execution_id = json.loads(started.stdout)["execution_id"]
    events = cli("events", execution_id, "--server", server.url, "--json")
    assert events.returncode == 0, events.stderr
    first = json.loads(events.stdout)[0]
    assert first["payload"]["payload"] == {"a": {"x": 1, "y": 2}}
    assert first["payload"]["workload"]["a"] == {"x": 1, "y": 2, "z": 9}


def test_catalog_commands_read_a_server_like_the_local_catalog(cli, server):
    playbook = cli.write("merged", MERGED)
    for where in (("--db", str(cli.db)), ("--server", server.url)):
        registered = cli("catalog", "register", str(playbook), "--json", *where)
        assert registered.returncode == 0, registered.stderr
        assert json.loads(registered.stdout)["version"] == 1
        listed = cli("catalog", "list", "--json", *where)
        assert listed.returncode == 0, listed.stderr
        assert [(e["path"], e["version"]) for e in json.loads(listed.stdout)] == [("t", 1)]
        shown = cli("catalog", "show", "t", *where)
        assert shown.stdout == playbook.read_text(), shown.stderr
        missing = cli("catalog", "show", "t", "--version", "7", *where)
        assert missing.returncode == 1
        assert "no version 7 of playbook 't'" in missing.stderr


def test_catalog_list_pages_locally_and_on_a_server_alike(cli, server):
    for name in ("c", "a", "b"):
        playbook = cli.write(name, MERGED)
        playbook.write_text(playbook.read_text().replace("name: t", f"name: {name}"))
        for where in (("--db", str(cli.db)), ("--server", server.url)):
            assert cli("catalog", "register", str(playbook), *where).returncode == 0
    for where in (("--db", str(cli.db)), ("--server", server.url)):
        pages = []
        for offset in ("0", "2"):
            listed = cli("catalog", "list", "--json", "--limit", "2", "--offset", offset, *where)
            assert listed.returncode == 0, listed.stderr
            pages.append([e["path"] for e in json.loads(listed.stdout)])
            full = "more may follow: --offset 2" in listed.stderr
            assert full == (offset == "0"), listed.stderr
        assert pages == [["a", "b"], ["c"]]
        refused = cli("catalog", "list", "--limit", "0", *where)
        assert refused.returncode == 2 and "--limit" in refused.stderr


def test_execution_reads_from_a_server(cli, server):
    playbook = cli.write("merged", MERGED)
    started = cli("execute", str(playbook), "--server", server.url)
    assert started.returncode == 0, started.stderr
    execution_id = started.stdout.strip()
    listed = cli("executions", "list", "--json", "--server", server.url)
    assert [row["execution_id"] for row in json.loads(listed.stdout)] == [execution_id]
    shown = cli("executions", "show", execution_id, "--server", server.url)
    assert json.loads(shown.stdout)["status"] == "running"
    unknown = cli("results", execution_id, "start", "--server", server.url)
    assert unknown.returncode == 1
    assert "has no result for step 'start'" in unknown.stderr


@pytest.fixture
def not_noetl() -> Iterator[str]:
    """A plain web server (404 "File not found" for every API path) and, on another port, a
    TCP server that greets in another protocol (as NATS does): URLs a person may mistype."""
    web = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    banner = socketserver.TCPServer(("127.0.0.1", 0), _Banner)
    for server in (web, banner):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield (
            f"http://127.0.0.1:{web.server_address[1]}",
            f"http://127.0.0.1:{banner.server_address[1]}",
        )
    finally:
        for server in (web, banner):
            server.shutdown()
            server.server_close()


class _Banner(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.request.sendall(b'INFO {"server_id":"NXYZ","version":"2.10.0","xkey":"XKEY"}\r\n')


def test_a_server_url_that_is_not_a_noetl_server_is_named_as_such(cli, not_noetl):
    web, banner = not_noetl
    shown = cli("status", "123", "--server", web)
    assert shown.returncode == 1
    assert shown.stderr.strip() == (
        f"error: GET {web}/api/v2/executions/123: HTTP 404 File not found, not an answer of a "
        f"NoETL server (is {web} the server's URL?)"
    )
    listed = cli("executions", "list", "--server", banner)
    assert listed.returncode == 1
    assert listed.stderr.strip() == (
        f"error: cannot reach the NoETL server at {banner}: its answer is not HTTP "
        "(Bad status line)"
    )
