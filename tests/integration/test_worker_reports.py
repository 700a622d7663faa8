"""Only the worker holding a command reports on it, and a report is stored or refused, never
dropped: forged, late and malformed events against a real server (SQLite log, API claims)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from noetl.client.source import RemoteSource
from noetl.client.transport import ServerClient
from noetl.config import Settings
from noetl.engine.events import STEP_DONE, Event
from support.live_server import LiveServer, api_client

NOETL = str(Path(sys.executable).with_name("noetl"))

WAIT = """\
apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: wait}
workflow:
  - step: start
    tool: {kind: python, code: "result = 'real'"}
    next: [{step: second}]
  - step: second
    tool: {kind: python, args: {x: "{{ start }}"}, code: "result = 'second saw ' + str(x)"}
"""


@pytest.fixture
def api(tmp_path: Path) -> Iterator[httpx.Client]:
    settings = Settings(home=tmp_path, db=tmp_path / "noetl.db")
    with LiveServer(settings) as live, api_client(live, None) as client:
        yield client


def _log(api: httpx.Client, execution_id: str) -> list[dict[str, Any]]:
    return list(api.get(f"/executions/{execution_id}/events").json()["events"])


def _start_and_claim(api: httpx.Client) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """Start WAIT and claim its first command; (execution id, the command, the claim)."""
    execution_id = api.post("/executions", json={"playbook": WAIT}).json()["execution_id"]
    [issued] = [e for e in _log(api, execution_id) if e["type"] == "command.issued"]
    body = {"execution_id": execution_id, "step": "start", "worker": "w-1"}
    claim = api.post(f"/commands/{issued['command_id']}/claim", json=body)
    assert claim.status_code == 200, claim.text
    return execution_id, issued, claim.json()


def _ending(command: dict[str, Any], result: Any, token: str | None, **extra: Any) -> dict:
    event = {
        "type": "step.done",
        "execution_id": command["execution_id"],
        "step": command["step"],
        "command_id": command["command_id"],
        "origin": "worker",
        "payload": {"result": result, "vars": {}, "set_ctx": {}},
        **extra,
    }
    return event if token is None else {**event, "claim_token": token}


def _sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def test_a_claim_is_logged_with_its_worker_and_only_the_digest_of_its_token(
    api: httpx.Client, tmp_path: Path
):
    """The claim token is a bearer secret: whoever reads the log (REST, `noetl events` on the
    file or through the server) sees its SHA-256, never the token, of a claim or a hand-off."""
    execution_id, issued, claim = _start_and_claim(api)
    token = claim["claim_token"]
    assert len(token) >= 20
    real = _ending(issued, "real", token)
    body = {"events": [real], "pool": "default", "take": 1, "worker_id": "w-2"}
    [handed] = api.post("/events", json=body).json()["handed"]
    claims = [e for e in _log(api, execution_id) if e["type"] == "command.claimed"]
    assert [c["payload"] for c in claims] == [
        {"worker_id": "w-1", "claim_token_sha256": _sha256(token)},
        {"worker_id": "w-2", "claim_token_sha256": _sha256(handed["claim_token"])},
    ]
    base = str(api.base_url).removesuffix("/").removesuffix("/api/v2")
    db = tmp_path / "noetl.db"  # the `api` fixture's log
    shown = [
        api.get(f"/executions/{execution_id}/events", params={"limit": 1000}).text,
        _noetl("events", execution_id, "--json", "--db", str(db)),
        _noetl("events", execution_id, "--json", "--server", base),
        _noetl("events", execution_id, "--db", str(db)),
    ]
    for text in shown:
        assert "command.claimed" in text, text
        for secret in (token, handed["claim_token"]):
            assert secret not in text
    wrong = _ending(handed["command"], "x", _sha256(handed["claim_token"]))  # the digest
    assert api.post("/events", json={"events": [wrong]}).status_code == 409
    done = _ending(handed["command"], "second saw real", handed["claim_token"])
    assert api.post("/events", json={"events": [done]}).status_code == 200


def _noetl(*args: str) -> str:
    """stdout of the `noetl` CLI (which must succeed)."""
    done = subprocess.run([NOETL, *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_forged_events_are_refused_and_never_written(api: httpx.Client):
    execution_id, issued, claim = _start_and_claim(api)
    before = _log(api, execution_id)
    hijack = {
        "type": "playbook.done",
        "execution_id": execution_id,
        "origin": "worker",
        "command_id": issued["command_id"],
        "claim_token": claim["claim_token"],
        "payload": {"result": "HIJACK"},
    }
    forged = {
        "events[0].type": [hijack],  # not a worker's event, whatever token it carries
        "events[0].origin": [{**_ending(issued, "x", "t"), "origin": "runtime"}],
        "events[0].claim_token": [_ending(issued, "FORGED", None)],
    }
    for where, events in forged.items():
        answer = api.post("/events", json={"events": events})
        assert answer.status_code == 422 and where in answer.text, answer.text
    not_held = [
        [_ending(issued, "FORGED", "guessed")],  # the right command, a wrong token
        [_ending({**issued, "command_id": "other"}, "x", claim["claim_token"])],  # unknown
    ]
    for events in not_held:
        answer = api.post("/events", json={"events": events})
        assert answer.status_code == 409, answer.text
    assert _log(api, execution_id) == before
    assert api.get(f"/executions/{execution_id}").json()["status"] == "running"


def test_the_holder_reports_with_its_token_and_the_server_keys_the_ending(api: httpx.Client):
    execution_id, issued, claim = _start_and_claim(api)
    real = _ending(issued, "real", claim["claim_token"], idempotency_key="chosen-by-client")
    answer = api.post("/events", json={"events": [real]})
    assert answer.status_code == 200, answer.text
    [ended] = [e for e in _log(api, execution_id) if e["type"] == "step.done"]
    assert ended["idempotency_key"] == f"step.end|{issued['command_id']}"
    again = api.post("/events", json={"events": [real]})  # finished: not running any more
    assert again.status_code == 409
    second = [e for e in _log(api, execution_id) if e["type"] == "command.issued"][-1]
    assert second["payload"]["command"]["args"] == {}
    assert second["step"] == "second"


def test_a_hand_off_is_logged_as_a_claim_of_the_reporter(api: httpx.Client):
    execution_id, issued, claim = _start_and_claim(api)
    real = _ending(issued, "real", claim["claim_token"])
    body = {"events": [real], "pool": "default", "take": 1, "worker_id": "w-2"}
    [handed] = api.post("/events", json=body).json()["handed"]
    claims = [e for e in _log(api, execution_id) if e["type"] == "command.claimed"]
    assert [c["payload"]["worker_id"] for c in claims] == ["w-1", "w-2"]
    assert claims[-1]["payload"]["claim_token_sha256"] == _sha256(handed["claim_token"])
    assert claims[-1]["command_id"] == handed["command"]["command_id"]
    stolen = _ending(handed["command"], "x", claim["claim_token"])  # the first claim's token
    assert api.post("/events", json={"events": [stolen]}).status_code == 409
    done = _ending(handed["command"], "second saw real", handed["claim_token"])
    assert api.post("/events", json={"events": [done]}).status_code == 200
    summary = api.get(f"/executions/{execution_id}").json()
    assert (summary["status"], summary["result"]) == ("done", "second saw real")


def test_a_claim_names_only_a_delivery_the_server_gave_out(api: httpx.Client):
    """A running command is claimed by nobody else, whatever attempt they name (1,000,000
    too): 409 without its scope, and the log unchanged; nor is a fresh command claimed with an
    attempt the bus cannot have delivered yet."""
    execution_id, issued, _ = _start_and_claim(api)
    before = _log(api, execution_id)
    for attempt in (2, 1_000_000, 1):
        body = {"execution_id": execution_id, "step": "start", "attempt": attempt, "worker": "x"}
        stolen = api.post(f"/commands/{issued['command_id']}/claim", json=body)
        assert stolen.status_code == 409, stolen.text
        assert "scope" not in stolen.json() and "lease" in stolen.text
        many = api.post(
            "/commands/claim", json={"claims": [{**body, "command_id": issued["command_id"]}]}
        )
        assert many.json() == {"claimed": [None]}
    assert _log(api, execution_id) == before
    fresh = api.post("/executions", json={"playbook": WAIT}).json()["execution_id"]
    [command] = [e for e in _log(api, fresh) if e["type"] == "command.issued"]
    body = {"execution_id": fresh, "step": "start", "attempt": 1_000_000}
    forged = api.post(f"/commands/{command['command_id']}/claim", json=body)
    assert forged.status_code == 409
    assert not [e for e in _log(api, fresh) if e["type"] == "command.claimed"]


def test_a_lease_is_renewed_only_with_its_claim_token(api: httpx.Client):
    execution_id, issued, claim = _start_and_claim(api)
    held = {"execution_id": execution_id, "command_id": issued["command_id"]}
    for token in ("guessed", None):
        body = {"held": [held if token is None else {**held, "claim_token": token}]}
        refused = api.post("/commands/renew", json=body)
        assert refused.status_code in (409, 422), refused.text
        assert "held[0]" in refused.text and claim["claim_token"] not in refused.text
    good = {"held": [{**held, "claim_token": claim["claim_token"]}]}
    assert api.post("/commands/renew", json=good).status_code == 204
    real = _ending(issued, "real", claim["claim_token"])
    assert api.post("/events", json={"events": [real]}).status_code == 200
    assert api.post("/commands/renew", json=good).status_code == 409  # finished: not held


@pytest.mark.parametrize("written", ["digest", "token in clear (before digests)"])
def test_a_holder_still_reports_after_a_restart(tmp_path: Path, written: str):
    """The state a restarted server rebuilds from the log holds the claim's digest, so the
    worker that held a command before the restart reports on it; a log written before claims
    were digested (the token in clear) still works for the commands claimed then."""
    settings = Settings(home=tmp_path, db=tmp_path / "noetl.db")
    with LiveServer(settings) as live, api_client(live, None) as api:
        execution_id, issued, claim = _start_and_claim(api)
    token = claim["claim_token"]
    if written != "digest":
        old = json.dumps({"worker_id": "w-1", "claim_token": token})
        with sqlite3.connect(settings.db) as db:
            changed = db.execute(
                "UPDATE events SET payload = ? WHERE execution_id = ? AND type = ?",
                (old, execution_id, "command.claimed"),
            ).rowcount
        assert changed == 1
    with LiveServer(settings) as live, api_client(live, None) as api:
        forged = _ending(issued, "FORGED", _sha256(token))
        assert api.post("/events", json={"events": [forged]}).status_code == 409
        real = _ending(issued, "real", token)
        answer = api.post("/events", json={"events": [real]})
        assert answer.status_code == 200, answer.text
        second = [e for e in _log(api, execution_id) if e["type"] == "command.issued"][-1]
        assert second["step"] == "second"


def test_reports_of_one_command_under_two_claims_do_not_sink_the_others(tmp_path: Path):
    """A worker may hold two reports of one command at once, under two claim tokens (its first
    report waited out a database outage until the lease ran out, and it claimed the command
    again). Posted in one request they made the server refuse the whole batch (422), and every
    report in it failed; now the stale one is refused alone and the others are stored."""
    settings = Settings(home=tmp_path, db=tmp_path / "noetl.db")
    with LiveServer(settings) as live, api_client(live, None) as api:
        (first, issued, claim), (other, other_issued, other_claim) = [
            _start_and_claim(api) for _ in range(2)
        ]

        def ending(command: dict[str, Any], result: str) -> Event:
            return Event(
                STEP_DONE,
                command["execution_id"],
                step=command["step"],
                command_id=command["command_id"],
                payload={"result": result, "vars": {}, "set_ctx": {}},
            )

        async def report_together() -> list[Any]:
            source = RemoteSource(ServerClient(live.url), worker="w-1", patience=5)
            try:
                return await asyncio.gather(
                    source.report([ending(issued, "stale")], "an-old-claim-token"),
                    source.report([ending(other_issued, "other")], other_claim["claim_token"]),
                    source.report([ending(issued, "current")], claim["claim_token"]),
                )
            finally:
                await source.close()

        assert asyncio.run(report_together()) == [[], [], []]
        for execution_id, result in ((first, "current"), (other, "other")):
            endings = [e for e in _log(api, execution_id) if e["type"] == "step.done"]
            assert [e["payload"]["result"] for e in endings] == [result]
