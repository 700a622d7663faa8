"""Invalid ids and out-of-range numbers are 4xx on both stores, never a 500 or a reset
connection (D11)."""

from __future__ import annotations

import contextlib
import json
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from noetl.config import Settings
from support.live_server import LiveServer, api_client

HELLO = Path(__file__).parents[2] / "examples" / "hello.yaml"


@pytest.fixture(params=["sqlite", "postgres"])
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[httpx.Client]:
    settings = Settings(home=tmp_path, db=tmp_path / "noetl.db", secret_key="k" * 43 + "=")
    if request.param == "postgres":
        # A fresh schema per test run is not needed: ids are unique, the checks read nothing.
        settings = Settings(**{**settings.__dict__, "pg_dsn": request.getfixturevalue("pg_dsn")})
    with LiveServer(settings) as live, api_client(live, None) as client:
        yield client


def test_nul_bytes_in_ids_are_422(api: httpx.Client):
    paths = [
        ("GET", "/executions/%00"),
        ("GET", "/executions/%00/events"),
        ("GET", "/executions/%00/playbook"),
        ("GET", "/catalog/%00"),
        ("DELETE", "/credentials/%00"),
        ("GET", "/results/%00"),
        ("GET", "/executions?status=%00"),
    ]
    for method, path in paths:
        answer = api.request(method, path)
        assert answer.status_code == 422, (path, answer.text)
        assert "NUL" in answer.text
    started = api.post("/executions", json={"playbook": HELLO.read_text()}).json()
    nul = {"execution_id": started["execution_id"] + "\u0000", "step": "start"}
    for body in (nul, {"execution_id": started["execution_id"], "step": "st\u0000art"}):
        claimed = api.post(f"/commands/c-{uuid.uuid4().hex}/claim", json=body)
        assert claimed.status_code in (404, 409, 422), claimed.text
    assert api.get("/health").status_code == 200  # the connection is still good


def test_numbers_beyond_the_database_columns_are_422(api: httpx.Client):
    execution_id = api.post("/executions", json={"playbook": HELLO.read_text()}).json()
    execution_id = execution_id["execution_id"]
    cases = [
        api.get("/executions", params={"offset": 99999999999999999999}),
        api.get(f"/executions/{execution_id}/events", params={"after_seq": 2**63}),
        api.get("/catalog/x", params={"version": 2**31}),
        api.post(
            "/commands/c1/claim",
            json={"execution_id": execution_id, "step": "start", "attempt": 2**31},
        ),
    ]
    for answer in cases:
        assert answer.status_code == 422, answer.text
    ok = api.get("/executions", params={"offset": 2**63 - 1})
    assert ok.status_code == 200 and ok.json()["executions"] == []


def test_payloads_no_event_store_can_keep_are_400_naming_the_field(api: httpx.Client):
    """A payload nested too deeply, with a number JSON has not, a NUL or a lone surrogate is
    refused by both stores alike, before anything is written (D11)."""
    playbook = HELLO.read_text()
    deep = '{"n": ' + "[" * 400 + "]" * 400 + "}"
    bodies = {
        "payload.n[0][0]": deep,
        "payload.n: inf is not a JSON number": '{"n": 1e999}',
        "payload.n: holds a NUL character": '{"n": "a\\u0000b"}',
        "payload.n: holds a lone UTF-16 surrogate": '{"n": "a\\ud800b"}',
    }
    before = api.get("/executions").json()
    for says, payload in bodies.items():
        body = f'{{"playbook": {json.dumps(playbook)}, "payload": {payload}}}'
        answer = api.post("/executions", content=body, headers={"content-type": "application/json"})
        assert answer.status_code == 400, (says, answer.text)
        assert says in answer.json()["error"]["message"], answer.text
    assert api.get("/executions").json() == before  # nothing started


def test_a_catalog_path_no_client_could_address_is_422_naming_it(api: httpx.Client):
    playbook = HELLO.read_text()
    for path in ("../../etc/passwd", "a/b/", "a/./b", "a b"):
        answer = api.post("/catalog", json={"content": playbook, "path": path})
        assert answer.status_code == 422, (path, answer.text)
        assert answer.json()["error"]["fields"][0]["field"] == "path", answer.text
        declared = playbook.replace("path: examples/hello", f"path: {json.dumps(path)}")
        answer = api.post("/catalog", json={"content": declared})
        assert answer.status_code == 422 and "metadata.path" in answer.text, answer.text
    assert api.get("/catalog").json() == []  # nothing registered


def test_a_body_that_trickles_in_is_408_and_the_server_keeps_answering(tmp_path: Path):
    """A client that sends its headers and then its body a byte at a time (slowloris) gets a
    408 once the body deadline passes, naming the cause; other requests are answered meanwhile,
    and a quick request on the same server is not affected by the deadline."""
    settings = Settings(home=tmp_path, db=tmp_path / "noetl.db")
    with LiveServer(settings, body_deadline=1.0) as live, api_client(live, None) as client:
        host, port = live.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as slow:
            head = (
                "POST /api/v2/executions HTTP/1.1\r\nHost: x\r\n"
                "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
            )
            slow.sendall(head.encode() + b"{")
            began = time.monotonic()
            assert client.get("/health").status_code == 200  # not stalled by the slow body
            answer = b""
            while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
                # A byte now and then: it never completes the body (once the server answered
                # and closed its side, sending fails).
                with contextlib.suppress(OSError):
                    slow.sendall(b" ")
                chunk = _recv_within(slow, 0.3)
                if chunk == b"" and answer:
                    break
                answer += chunk or b""
                assert time.monotonic() - began < 8, answer
        status_line, _, rest = answer.partition(b"\r\n")
        assert b" 408 " in status_line, answer
        body = json.loads(rest.partition(b"\r\n\r\n")[2])
        assert body["error"]["kind"] == "timeout" and "did not arrive" in body["error"]["message"]
        started = client.post("/executions", json={"playbook": HELLO.read_text()})
        assert started.status_code in (200, 201, 202), started.text


def _recv_within(sock: socket.socket, seconds: float) -> bytes | None:
    """What the socket has within `seconds` (b"" once closed); None when nothing came."""
    sock.settimeout(seconds)
    try:
        return sock.recv(65536)
    except TimeoutError:
        return None


def test_a_body_nested_too_deeply_to_decode_is_422_naming_the_body(api: httpx.Client):
    """Python's JSON decoder recurses: a small body of 30,000 nested arrays raised a
    RecursionError, a 500 on the worker routes and a 400 naming nothing on the others."""
    deep = "[" * 30_000 + "]" * 30_000
    for path in ("/events", "/commands/claim", "/executions", "/catalog"):
        answer = api.post(path, content=deep, headers={"content-type": "application/json"})
        assert answer.status_code == 422, (path, answer.text)
        [field] = answer.json()["error"]["fields"]
        assert field["field"] == "body" and "nested too deeply" in field["message"], path
    assert api.get("/health").status_code == 200
