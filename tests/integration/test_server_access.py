"""Safer by default (D13): no open non-loopback server, a worker token that opens only what
workers call, no uploads into finished executions, a results quota per execution."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from noetl.config import Settings
from noetl.errors import ConfigError
from noetl.server.app import create_app
from support.live_server import LiveServer, api_client

ADMIN, WORKER = "admin-token-1", "worker-token-2"
NOETL = str(Path(sys.executable).with_name("noetl"))
ONE_STEP = """\
apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: one}
workflow:
  - step: start
    tool: {kind: python, code: "result = 1"}
"""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    settings = Settings(
        home=tmp_path,
        db=tmp_path / "noetl.db",
        api_token=ADMIN,
        worker_token=WORKER,
        secret_key="k" * 43 + "=",
        max_execution_result_bytes=1000,
    )
    with LiveServer(settings) as live:
        yield live


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.7", "::", "example.org"])
def test_a_non_loopback_address_needs_a_token_or_an_explicit_override(host):
    with pytest.raises(ConfigError, match=f"refusing to serve {host} without a token"):
        create_app(Settings(host=host))
    create_app(Settings(host=host, api_token=ADMIN))
    create_app(Settings(host=host, allow_open=True))  # warned about, served


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.5.5.5"])
def test_loopback_addresses_need_no_token(host):
    create_app(Settings(host=host))


def test_a_worker_token_alone_is_refused():
    with pytest.raises(ConfigError, match="NOETL_WORKER_TOKEN needs NOETL_API_TOKEN"):
        create_app(Settings(worker_token=WORKER))


def test_the_cli_refuses_to_serve_the_network_open(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    started = subprocess.run(
        [NOETL, "server", "start", "--host", "0.0.0.0", "--home", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert started.returncode == 2
    assert "refusing to serve 0.0.0.0 without a token" in started.stderr


def test_the_worker_token_opens_only_the_routes_workers_call(server: LiveServer):
    with api_client(server, ADMIN) as admin, api_client(server, WORKER) as worker:
        assert admin.put("/credentials/db", json={"data": {"token": "s3cr3t"}}).status_code == 201
        started = worker.post("/executions", json={"playbook": ONE_STEP})  # a child start
        assert started.status_code == 201
        execution_id = started.json()["execution_id"]
        assert worker.get(f"/executions/{execution_id}").status_code == 200
        assert worker.get(f"/executions/{execution_id}/playbook").status_code == 200
        beat = {"pool": "default", "slots": 2, "busy": 0, "version": "t"}
        beat |= {"started_at": "2026-12-06T10:00:00+00:00", "lost_after": 15}
        assert worker.put("/workers/w1", json=beat).status_code == 204  # its heartbeat
        refused = {
            "reveal outside a held command": worker.post("/credentials/db/reveal"),
            "list credentials": worker.get("/credentials"),
            "set a credential": worker.put("/credentials/db", json={"data": {"token": "x"}}),
            "delete a credential": worker.delete("/credentials/db"),
            "register a playbook": worker.post("/catalog", json={"content": ONE_STEP}),
            "list executions": worker.get("/executions"),
            "read events": worker.get(f"/executions/{execution_id}/events"),
            "cancel": worker.post(f"/executions/{execution_id}/cancel"),
            "list workers": worker.get("/workers"),
        }
        assert {what: r.status_code for what, r in refused.items()} == dict.fromkeys(refused, 403)
        assert "worker token" in refused["cancel"].json()["error"]["message"]
        assert admin.get(f"/executions/{execution_id}/events").status_code == 200
        assert [w["worker_id"] for w in admin.get("/workers").json()["workers"]] == ["w1"]
        assert worker.delete("/workers/w1").status_code == 204  # leaving
        with api_client(server, "wrong") as stranger:
            assert stranger.post("/events", json={"events": []}).status_code == 401


def test_results_go_only_into_running_executions_and_within_their_quota(server: LiveServer):
    with api_client(server, ADMIN) as api:
        execution_id = api.post("/executions", json={"playbook": ONE_STEP}).json()["execution_id"]
        uploads = f"/executions/{execution_id}/results"
        assert api.put(uploads, content=b"[" + b"1," * 300 + b"1]").status_code == 201
        over = api.put(uploads, content=b"[" + b"2," * 300 + b"2]")  # 1,204 bytes in all
        assert over.status_code == 413 and "NOETL_MAX_EXECUTION_RESULT_BYTES" in over.text
        # The same bytes again (a retry after a lost answer) store nothing: not refused.
        assert api.put(uploads, content=b"[" + b"1," * 300 + b"1]").status_code == 201
        assert api.post(f"/executions/{execution_id}/cancel").status_code == 202
        finished = api.put(uploads, content=b"[3]")
        assert finished.status_code == 409 and "cancelled" in finished.text


def _claimed(
    admin: httpx.Client, api: httpx.Client, execution_id: str, worker: str
) -> dict[str, Any]:
    """Claim the execution's first command through `api` as `worker` (`admin` reads the log):
    its execution, command and claim token."""
    [issued] = [
        e
        for e in admin.get(f"/executions/{execution_id}/events").json()["events"]
        if e["type"] == "command.issued"
    ]
    body = {"execution_id": execution_id, "step": issued["step"], "worker": worker}
    claim = api.post(f"/commands/{issued['command_id']}/claim", json=body)
    assert claim.status_code == 200, claim.text
    command = claim.json()["command"]
    return {
        "execution_id": execution_id,
        "command_id": command["command_id"],
        "claim_token": claim.json()["claim_token"],
    }


def test_a_credential_is_revealed_to_a_worker_only_for_a_command_it_holds(server: LiveServer):
    """Only the holder of a running command gets a credential with the worker token: not
    without a command, not with a guessed token or another command's token, not once the
    command finished. The admin token reveals without one. No refusal shows the value or the
    token sent."""
    secret = "GENMARK-S3cr3t-55aa"
    with api_client(server, ADMIN) as admin, api_client(server, WORKER) as worker:
        assert admin.put("/credentials/gen", json={"data": {"key": secret}}).status_code == 201
        first, second = (
            worker.post("/executions", json={"playbook": ONE_STEP}).json()["execution_id"]
            for _ in range(2)
        )
        held = _claimed(admin, worker, first, "w-1")
        other = _claimed(admin, worker, second, "w-2")
        reveal = "/credentials/gen/reveal"
        assert worker.post(reveal, json=held).json()["data"] == {"key": secret}
        guessed = {**held, "claim_token": "guessed-token-123"}
        crossed = {**held, "claim_token": other["claim_token"]}  # another worker's claim
        unknown = {**held, "command_id": "no-such-command"}
        for body in (None, guessed, crossed, unknown, {**held, "execution_id": "nope"}):
            refused = worker.post(reveal, json=body)
            assert refused.status_code == 403, (body, refused.text)
            assert secret not in refused.text and "guessed-token" not in refused.text
            assert other["claim_token"] not in refused.text
        ending = {
            "type": "step.done",
            "execution_id": first,
            "step": "start",
            "command_id": held["command_id"],
            "claim_token": held["claim_token"],
            "payload": {"result": 1, "vars": {}, "set_ctx": {}},
        }
        assert worker.post("/events", json={"events": [ending]}).status_code == 200
        assert admin.get(f"/executions/{first}").json()["status"] == "done"
        finished = worker.post(reveal, json=held)
        assert finished.status_code == 403 and "not held" in finished.text, finished.text
        assert admin.post(reveal).json()["data"] == {"key": secret}
