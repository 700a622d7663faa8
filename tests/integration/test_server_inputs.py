"""Invalid ids and out-of-range numbers are 4xx on both stores, never a 500 or a reset
connection (D11)."""

from __future__ import annotations

import json
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
