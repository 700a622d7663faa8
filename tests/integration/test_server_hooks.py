"""Webhooks through the REST API (real uvicorn, SQLite): the right secret and a JSON object start
the playbook with the body as payload; every other call is a clear 4xx that starts nothing, and
the secret shows nowhere but in the answer that made the hook."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from noetl.config import Settings
from support.live_server import LiveServer, api_client

TOKEN = "api-token-5b1c"
ECHO = """\
apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: echo, path: tests/echo}
workload: {who: nobody}
workflow:
  - step: start
    tool: {kind: python, args: {who: "{{ workload.who }}"}, code: "result = 'hi ' + who"}
"""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    settings = Settings(home=tmp_path, db=tmp_path / "noetl.db", api_token=TOKEN)
    with LiveServer(settings, max_body=10 * 1024 * 1024, local_workers=2) as live:
        yield live


def test_a_webhook_with_good_and_bad_secrets_and_bodies(server: LiveServer, tmp_path: Path):
    with (
        api_client(server, TOKEN) as api,
        httpx.Client(base_url=server.url + "/api/v2", timeout=20) as anyone,
    ):
        assert api.post("/catalog", json={"content": ECHO}).status_code == 201
        unknown_path = api.post("/hooks", json={"name": "x", "path": "no/such"})
        assert unknown_path.status_code == 400 and "path" in unknown_path.json()["error"]["message"]
        made = api.post("/hooks", json={"name": "greet", "path": "tests/echo"})
        assert made.status_code == 201, made.text
        secret = made.json()["secret"]
        assert api.post("/hooks", json={"name": "greet", "path": "tests/echo"}).status_code == 409
        assert anyone.post("/hooks", json={"name": "y", "path": "tests/echo"}).status_code == 401
        good = {"X-NoETL-Hook-Secret": secret}

        def sent_json(body: bytes) -> httpx.Response:
            """The greet hook called with the right secret and `body` as raw JSON bytes."""
            headers = {**good, "content-type": "application/json"}
            return anyone.post("/hooks/greet", content=body, headers=headers)

        calls = {
            "no secret": (anyone.post("/hooks/greet", json={"who": "a"}), 401),
            "wrong secret": (
                anyone.post(
                    "/hooks/greet", json={"who": "a"}, headers={"X-NoETL-Hook-Secret": secret[:-1]}
                ),
                401,
            ),
            "unknown hook": (anyone.post("/hooks/nope", json={}, headers=good), 404),
            "not json": (
                anyone.post(
                    "/hooks/greet",
                    content=b"who=a",
                    headers={**good, "content-type": "application/x-www-form-urlencoded"},
                ),
                415,
            ),
            "bad json": (
                sent_json(b"{who"),
                422,
            ),
            "a list": (anyone.post("/hooks/greet", json=[1, 2], headers=good), 422),
            "too deep to parse": (  # a RecursionError in the decoder was a 500
                sent_json(b"[" * 100_000 + b"]" * 100_000),
                422,
            ),
            "too deep to keep": (
                sent_json(b'{"who": ' + b"[" * 200 + b"]" * 200 + b"}"),
                400,
            ),
            "not a JSON number": (  # refused by the one strict decoder (was a 400 at start)
                sent_json(b'{"who": NaN}'),
                422,
            ),
            "Infinity": (
                sent_json(b'{"who": [1, -Infinity]}'),
                422,
            ),
            "not UTF-8": (
                sent_json(b'{"who": "\xff"}'),
                422,
            ),
            "too large": (
                anyone.post("/hooks/greet", json={"who": "x" * (1024 * 1024)}, headers=good),
                413,
            ),
        }
        for what, (answer, status) in calls.items():
            assert answer.status_code == status, (what, answer.text)
            assert answer.json()["error"]["message"], what
            assert secret not in answer.text
        for what in ("not a JSON number", "Infinity"):  # refused as every route refuses it
            message = calls[what][0].json()["error"]["message"]
            assert message.startswith("body: not valid JSON") and "is not a JSON number" in message
        elsewhere = api.post(
            "/executions",
            content=b'{"playbook": "x", "payload": {"who": NaN}}',
            headers={"content-type": "application/json"},
        )
        assert elsewhere.status_code == 422 and "NaN is not a JSON number" in elsewhere.text
        assert api.get("/executions").json()["executions"] == []  # nothing was started
        started = anyone.post("/hooks/greet", json={"who": "ada"}, headers=good)
        assert started.status_code == 202, started.text
        execution_id = started.json()["execution_id"]
        ended = api.get(f"/executions/{execution_id}", params={"wait": 15}).json()
        assert ended["status"] == "done" and ended["result"] == "hi ada"
        log = api.get(f"/executions/{execution_id}/events").json()["events"]
        assert log[0]["payload"]["trigger"] == {"hook": "greet"}
        assert log[0]["payload"]["payload"] == {"who": "ada"}
        listed = api.get("/hooks")
        assert [h["name"] for h in listed.json()["hooks"]] == ["greet"]
        assert secret not in listed.text and secret not in json.dumps(log)
        assert api.delete("/hooks/greet").status_code == 204
        assert anyone.post("/hooks/greet", json={}, headers=good).status_code == 404
        assert api.delete("/hooks/greet").status_code == 404
    stored = (tmp_path / "noetl.db").read_bytes()
    assert secret.encode() not in stored
