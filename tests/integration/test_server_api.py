"""The REST API against a real uvicorn server on 127.0.0.1 (SQLite log, no bus consumers).

Workers are played by the test: it reads `command.issued` events, claims commands over HTTP with
the same `RemoteSource` distributed workers use, runs them with the real worker pipeline and
posts their events back. Every refusal is checked to leave nothing stored.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from noetl.bus.port import Pointer
from noetl.client.catalog import RemoteCatalog
from noetl.client.source import RemoteSource
from noetl.client.transport import ServerClient
from noetl.config import Settings
from noetl.engine.events import Event
from noetl.store.catalog import MAX_PAGE
from noetl.tools.base import Resources
from noetl.worker.pipeline import run_command
from support.event_log import assert_one_ending_per_step_run
from support.live_server import LiveServer, api_client

TOKEN = "test-token-7f3a"
HELLO = Path(__file__).parents[2] / "examples" / "hello.yaml"
SLOW = """\
apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: slow, path: tests/slow}
workflow:
  - step: start
    tool: {kind: python, code: "result = 1"}
"""
TWO_STEPS = SLOW.replace("name: slow", "name: two").replace(
    '    tool: {kind: python, code: "result = 1"}',
    '    tool: {kind: python, code: "result = 1"}\n    next: second\n'
    "  - step: second\n"
    '    tool: {kind: python, args: {n: "{{ start }}"}, code: "result = n + 1"}',
)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    settings = Settings(home=tmp_path, db=tmp_path / "noetl.db", api_token=TOKEN)
    with LiveServer(settings) as live:
        yield live


@pytest.fixture
def api(server: LiveServer) -> Iterator[httpx.Client]:
    with api_client(server, TOKEN) as client:
        yield client


def executions(api: httpx.Client) -> list[dict[str, Any]]:
    answer = api.get("/executions")
    assert answer.status_code == 200
    return list(answer.json()["executions"])


def issued(api: httpx.Client, execution_id: str) -> list[dict[str, Any]]:
    events = api.get(f"/executions/{execution_id}/events").json()["events"]
    return [e for e in events if e["type"] == "command.issued"]


# -- auth, limits, docs -------------------------------------------------------------------------


def test_missing_or_wrong_token_is_401_and_stores_nothing(server: LiveServer, api: httpx.Client):
    body = {"playbook": HELLO.read_text()}
    for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": TOKEN}):
        answer = httpx.post(f"{server.url}/api/v2/executions", json=body, headers=headers)
        assert answer.status_code == 401
        assert answer.json()["error"]["kind"] == "unauthorized"
        assert TOKEN not in answer.text
    assert httpx.get(f"{server.url}/api/v2/health").json()["status"] == "ok"
    assert executions(api) == []


def test_oversized_body_is_413_and_stores_nothing(api: httpx.Client):
    huge = {"playbook": HELLO.read_text(), "payload": {"blob": "x" * 100_000}}
    answer = api.post("/executions", json=huge)
    assert answer.status_code == 413
    assert "larger than" in answer.json()["error"]["message"]
    assert executions(api) == []


def test_oversized_worker_report_is_413(api: httpx.Client):
    def chunks() -> Iterator[bytes]:
        yield b'{"events": [{"payload": {"blob": "'
        for _ in range(100):
            yield b"x" * 1024
        yield b'"}}]}'

    answer = api.post("/events", content=chunks(), headers={"content-type": "application/json"})
    assert answer.status_code == 413
    assert "larger than" in answer.json()["error"]["message"]


def test_streamed_oversized_body_is_413(api: httpx.Client):
    def chunks() -> Iterator[bytes]:
        yield b'{"playbook": "'
        for _ in range(100):
            yield b"x" * 1024
        yield b'"}'

    answer = api.post("/executions", content=chunks(), headers={"content-type": "application/json"})
    assert answer.status_code == 413
    assert executions(api) == []


def test_openapi_docs_and_metrics(server: LiveServer, api: httpx.Client):
    assert httpx.get(f"{server.url}/docs").status_code == 200
    schema = httpx.get(f"{server.url}/openapi.json").json()
    paths = schema["paths"]
    assert "/api/v2/commands/{command_id}/claim" in paths
    # the worker routes and the start are served on the lean lane, documented from the same
    # models
    for path, model in (
        ("/api/v2/executions", "StartExecution"),
        ("/api/v2/events", "EventBatch"),
        ("/api/v2/commands/claim", "BatchClaimRequest"),
        ("/api/v2/commands/renew", "RenewRequest"),
        ("/api/v2/commands/{command_id}/claim", "ClaimRequest"),
    ):
        body = paths[path]["post"]["requestBody"]["content"]["application/json"]["schema"]
        assert body == {"$ref": f"#/components/schemas/{model}"}
        assert model in schema["components"]["schemas"]
    assert "HeldCommand" in schema["components"]["schemas"]  # a model RenewRequest refers to
    start = paths["/api/v2/executions"]["post"]
    assert start["tags"] == ["executions"] and "201" in start["responses"]
    assert [(p["name"], p["in"]) for p in start["parameters"]] == [("Idempotency-Key", "header")]
    assert start["parameters"][0]["schema"]["maxLength"] == 256
    assert "get" in paths["/api/v2/executions"]  # the listing stays FastAPI's
    operations = {
        ("post", "/api/v2/executions/{execution_id}/retry"),
        ("post", "/api/v2/schedules"),
        ("get", "/api/v2/schedules"),
        ("post", "/api/v2/schedules/{name}/pause"),
        ("delete", "/api/v2/schedules/{name}"),
        ("post", "/api/v2/hooks"),
        ("post", "/api/v2/hooks/{name}"),
        ("post", "/api/v2/prune"),
    }
    assert {(m, p) for p, methods in paths.items() for m in methods} >= operations
    api.post("/executions", json={"playbook": HELLO.read_text()})
    metrics = api.get(f"{server.url}/metrics").text
    assert "noetl_executions_started_total 1.0" in metrics
    assert "noetl_request_seconds_count" in metrics
    api.post("/events", json={"events": []})  # refused, and timed under its route
    metrics = api.get(f"{server.url}/metrics").text
    assert 'noetl_request_seconds_count{method="POST",route="/events"}' in metrics


# -- catalog ------------------------------------------------------------------------------------


def test_catalog_versions(api: httpx.Client):
    first = api.post("/catalog", json={"content": SLOW})
    assert first.status_code == 201
    assert first.json() | {"created_at": ""} == first.json() | {
        "path": "tests/slow",
        "version": 1,
        "created": True,
        "created_at": "",
    }
    again = api.post("/catalog", json={"content": SLOW})
    assert again.status_code == 200  # nothing new was registered
    assert (again.json()["version"], again.json()["created"]) == (1, False)
    changed = SLOW.replace("result = 1", "result = 2")
    assert api.post("/catalog", json={"content": changed}).json()["version"] == 2
    assert api.get("/catalog/tests/slow").json()["content"] == changed
    assert api.get("/catalog/tests/slow", params={"version": 1}).json()["content"] == SLOW
    assert [(e["path"], e["version"]) for e in api.get("/catalog").json()] == [("tests/slow", 2)]


def test_catalog_list_pages_and_names_a_bad_limit_or_offset(api: httpx.Client):
    for name in ("c", "a", "b"):
        source = SLOW.replace("path: tests/slow", f"path: tests/page/{name}")
        assert api.post("/catalog", json={"content": source}).status_code == 201
    pages = [
        [e["path"] for e in api.get("/catalog", params={"limit": 2, "offset": at}).json()]
        for at in (0, 2)
    ]
    assert pages == [["tests/page/a", "tests/page/b"], ["tests/page/c"]]
    refused = {
        "limit": [{"limit": 0}, {"limit": 1001}, {"limit": "x"}],
        "offset": [{"offset": -1}, {"offset": 2**63}],
    }
    for field, queries in refused.items():
        for params in queries:
            answer = api.get("/catalog", params=params)
            assert answer.status_code == 422, (params, answer.text)
            assert answer.json()["error"]["fields"][0]["field"] == field, answer.text


def test_the_remote_catalog_pages_through_more_than_a_page(
    server: LiveServer, api: httpx.Client, tmp_path: Path
):
    rows = [(f"p/{i:04}", SLOW) for i in range(MAX_PAGE + 5)]
    with sqlite3.connect(tmp_path / "noetl.db") as conn:  # the server's catalog, filled fast
        conn.executemany(
            "INSERT INTO catalog (path, version, name, source, sha256, created_at) "
            "VALUES (?, 1, 'slow', ?, 'x', '2026-01-01T00:00:00.000000+00:00')",
            rows,
        )

    async def listed() -> list[list[str]]:
        catalog = RemoteCatalog(ServerClient(server.url, token=TOKEN))
        try:
            pages = [await catalog.list(), await catalog.list(limit=3, offset=MAX_PAGE + 3)]
            return [[entry.path for entry in page] for page in pages]
        finally:
            await catalog.client.aclose()

    whole, last = asyncio.run(listed())
    assert whole == [path for path, _ in rows]  # two requests, every path, in order
    assert last == [path for path, _ in rows[MAX_PAGE + 3 :]]


def test_catalog_refusals(api: httpx.Client):
    bad = api.post("/catalog", json={"content": "workflow: [\n  - step: a\n  bad"})
    assert bad.status_code == 422
    problems = bad.json()["error"]["problems"]
    assert problems and problems[0]["line"] is not None and problems[0]["col"] is not None
    assert api.get("/catalog").json() == []
    assert api.get("/catalog/nope").status_code == 404
    api.post("/catalog", json={"content": SLOW})
    missing = api.get("/catalog/tests/slow", params={"version": 7})
    assert missing.status_code == 404
    assert "tests/slow" in missing.json()["error"]["message"]
    assert api.post("/catalog", json={}).json()["error"]["fields"][0]["field"] == "content"


# -- executions ---------------------------------------------------------------------------------


def test_start_refusals_store_nothing(api: httpx.Client):
    invalid = (
        "apiVersion: noetl.io/v2\nkind: Playbook\nmetadata: {name: x}\nworkflow:\n  - stp: a\n"
    )
    answer = api.post("/executions", json={"playbook": invalid})
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["kind"] == "invalid_playbook"
    assert error["problems"][0]["file"] == "<request>" and error["problems"][0]["line"] == 5
    assert api.post("/executions", json={"path": "no/such"}).status_code == 404
    api.post("/catalog", json={"content": SLOW})
    unknown_version = api.post("/executions", json={"path": "tests/slow", "version": 9})
    assert unknown_version.status_code == 404
    both = api.post("/executions", json={"path": "tests/slow", "playbook": SLOW})
    assert both.status_code == 422 and "exactly one" in both.json()["error"]["message"]
    typed = api.post("/executions", json={"playbook": SLOW, "payload": [1, 2]})
    assert typed.json()["error"]["fields"][0]["field"] == "payload"
    orphan = api.post("/executions", json={"playbook": SLOW, "parent_execution_id": "123"})
    assert orphan.status_code == 404
    # Workload templates are rendered once at start: one that cannot be is the request's fault.
    stamp = "workload: {stamp: '{{ workload.nope.x }}'}\nworkflow:"
    unrenderable = SLOW.replace("workflow:", stamp)
    refused = api.post("/executions", json={"playbook": unrenderable})
    assert refused.status_code == 422
    assert "workload.stamp: undefined name 'workload.nope'" in refused.json()["error"]["message"]
    assert executions(api) == []


def test_read_refusals(api: httpx.Client):
    missing = [
        api.get("/executions/404404"),
        api.get("/executions/404404/events"),
        api.get("/executions/404404/playbook"),
        api.post("/executions/404404/cancel"),
        api.post("/executions/404404/retry", json={}),
        api.get("/catalog/no/such"),
        api.get("/results/404404/abc"),
    ]
    for answer in missing:
        assert answer.status_code == 404, answer.text
        assert "404404" in answer.text or "no/such" in answer.text, answer.text
        assert "noetl.db" not in answer.text and "/tmp" not in answer.text, answer.text
    bad_status = api.get("/executions", params={"status": "sleeping"})
    assert bad_status.status_code == 422 and "status" in bad_status.json()["error"]["message"]
    assert api.get("/executions", params={"limit": 0}).json()["error"]["fields"][0]["field"] == (
        "limit"
    )


def test_start_by_catalog_path_and_cancel(api: httpx.Client):
    api.post("/catalog", json={"content": SLOW})
    started = api.post("/executions", json={"path": "tests/slow", "version": 1})
    assert started.status_code == 201
    execution_id = started.json()["execution_id"]
    summary = api.get(f"/executions/{execution_id}").json()
    assert (summary["status"], summary["playbook_path"]) == ("running", "tests/slow")
    source = api.get(f"/executions/{execution_id}/playbook").json()["source"]
    assert source == SLOW
    cancelled = api.post(f"/executions/{execution_id}/cancel")
    assert cancelled.status_code == 202 and cancelled.json()["status"] == "cancelled"
    assert api.post(f"/executions/{execution_id}/cancel").status_code == 409
    events = api.get(f"/executions/{execution_id}/events").json()["events"]
    assert events[-1]["type"] == "playbook.cancelled"
    page = api.get(f"/executions/{execution_id}/events", params={"after_seq": 1, "limit": 1})
    assert [e["seq"] for e in page.json()["events"]] == [2]
    listed = api.get("/executions", params={"status": "cancelled"}).json()["executions"]
    assert [e["execution_id"] for e in listed] == [execution_id]


# -- workers: events and claims -----------------------------------------------------------------


def test_malformed_event_batches_are_422_and_store_nothing(api: httpx.Client):
    execution_id = api.post("/executions", json={"playbook": SLOW}).json()["execution_id"]
    before = api.get(f"/executions/{execution_id}/events").json()["events"]
    command_id = issued(api, execution_id)[-1]["command_id"]
    event = Event("task.done", execution_id, "start", command_id=command_id, origin="worker")
    good = {**event.to_dict(), "claim_token": "t"}
    cases = {
        "events[1]": [good, {**good, "type": "task.exploded"}],
        "events[0]": [{k: v for k, v in good.items() if k != "execution_id"}],
        "events[0].origin": [{**good, "origin": "engine"}],
        "events[0].execution_id": [{**good, "execution_id": 12}],
        "events[0].iteration": [{**good, "iteration": 1.5}],
        "events[0].command_id": [{**good, "command_id": [1]}],
        "events[0].step": [{**good, "step": {"a": 1}}],
        "events[0].idempotency_key": [{**good, "idempotency_key": 5}],
        "events[0].payload": [{**good, "payload": [1]}],
        "events[0].claim_token": [{k: v for k, v in good.items() if k != "claim_token"}],
        "events[0].type": [{**good, "type": "playbook.done"}],
        "events[0].surprise": [{**good, "surprise": 1}],
        "events[0].created_at": [{**good, "created_at": "yesterday"}],
        "events[1].created_at": [good, {**good, "created_at": "2026-01-01T10:00:00"}],
        # Shaped as workers stamp times (checked by shape once its second is known valid).
        "events[2].created_at": [
            {**good, "created_at": "2026-02-27T10:00:00.000000+00:00"},
            {**good, "created_at": "2026-02-27T10:00:00.000001+00:00"},
            {**good, "created_at": "2026-02-30T10:00:00.000000+00:00"},
        ],
        "events[3].created_at": [
            *[{**good, "created_at": "2026-02-27T10:00:00.000000+00:00"}] * 3,
            {**good, "created_at": "2026-02-27T10:00:00.00000x+00:00"},
        ],
        "events": [],
    }
    for where, batch in cases.items():
        answer = api.post("/events", json={"events": batch})
        assert answer.status_code == 422, where
        assert where in answer.text, answer.text
    assert api.post("/events", json={"events": "nope"}).status_code == 422
    not_a_number = json.dumps({"events": [{**good, "payload": {"x": float("inf")}}]})
    refused = api.post(
        "/events", content=not_a_number, headers={"content-type": "application/json"}
    )
    assert refused.status_code == 422 and "Infinity" in refused.text
    as_json = {"content-type": "application/json"}
    assert api.post("/events", content=b"{not json", headers=as_json).status_code == 422
    garbled = api.post("/events", content=b'{"events": ["\xff"]}', headers=as_json)
    assert garbled.status_code == 422 and "UTF-8" in garbled.text
    as_text = {"content-type": "text/plain"}
    typed = api.post("/events", content=json.dumps({"events": [good]}), headers=as_text)
    assert typed.status_code == 422 and "content-type" in typed.text
    unknown = api.post("/events", json={"events": [{**good, "execution_id": "999"}]})
    assert unknown.status_code == 404
    assert api.get(f"/executions/{execution_id}/events").json()["events"] == before


def test_claim_race_one_winner_then_events_posted_twice_are_stored_once(server: LiveServer):
    async def scenario() -> None:
        client = ServerClient(server.url, token=TOKEN)
        rival = ServerClient(server.url, token=TOKEN)
        source = RemoteSource(client)
        try:
            execution_id = await client.start(playbook=HELLO.read_text())
            command = (await client.events(execution_id))[-1]
            assert command["type"] == "command.issued"
            pointer = Pointer(execution_id, command["command_id"], command["step"])
            first, second = await asyncio.gather(
                RemoteSource(rival).claim(pointer), source.claim(pointer)
            )
            winners = [item for item in (first, second) if item is not None]
            assert len(winners) == 1
            item = winners[0]
            assert item.command.command_id == pointer.command_id
            assert item.scope["workload"] == {"name": "World"}
            assert await source.claim(pointer) is None  # still held: 409 -> None
            events = await run_command(item.playbook, item.command, item.scope, Resources())
            await source.report(events, item.token)
            after_first = await client.events(execution_id)
            await source.report(events, item.token)  # a retry after a lost answer: dropped
            assert await client.events(execution_id) == after_first
            summary = await client.wait(execution_id)
            assert (summary["status"], summary["result"]) == ("done", "Hello, World!")
            assert await source.claim(pointer) is None  # finished: 409 -> None
            keys = [e["idempotency_key"] for e in after_first]
            assert len(keys) == len(set(keys))
        finally:
            await source.close()
            await rival.aclose()

    asyncio.run(scenario())


def test_batch_claim_answers_in_order_with_one_winner_per_command(api: httpx.Client):
    started = api.post("/executions", json={"playbook": HELLO.read_text()})
    execution_id = started.json()["execution_id"]
    command = issued(api, execution_id)[-1]
    claim = {
        "command_id": command["command_id"],
        "execution_id": execution_id,
        "step": command["step"],
        "attempt": 1,
    }
    unknown = {**claim, "command_id": "nope"}
    answer = api.post("/commands/claim", json={"claims": [claim, claim, unknown]})
    assert answer.status_code == 200
    first, again, missing = answer.json()["claimed"]
    assert first["command"]["command_id"] == command["command_id"]
    assert first["scope"]["workload"] == {"name": "World"}
    assert again is None and missing is None
    refused = api.post("/commands/claim", json={"claims": []})
    assert refused.status_code == 422
    assert "claims" in refused.text


def test_a_reported_event_keeps_the_time_it_happened_in_utc(api: httpx.Client):
    started = api.post("/executions", json={"playbook": HELLO.read_text()})
    execution_id = started.json()["execution_id"]
    command = issued(api, execution_id)[-1]
    claim = {"command_id": command["command_id"], "execution_id": execution_id}
    claim |= {"step": command["step"], "attempt": 1, "worker": "w"}
    held = api.post("/commands/claim", json={"claims": [claim]}).json()["claimed"][0]
    about = {"execution_id": execution_id, "step": "start", "command_id": command["command_id"]}
    about |= {"origin": "worker", "claim_token": held["claim_token"]}
    times = ["2026-01-02T03:04:05.000006+00:00", "2026-01-02T05:04:05.5+02:00"]
    reported = [
        {**about, "type": "command.started", "created_at": times[0], "payload": {}},
        {**about, "type": "task.done", "created_at": times[1], "payload": {"result": 1}},
    ]
    assert api.post("/events", json={"events": reported}).status_code == 200
    stored = api.get(f"/executions/{execution_id}/events").json()["events"]
    found = {e["type"]: e["created_at"] for e in stored}
    assert found["command.started"] == times[0]
    assert found["task.done"] == "2026-01-02T03:04:05.500000+00:00"


def test_a_report_that_offers_to_run_more_gets_the_next_command_on_a_lease(server: LiveServer):
    """The worker's report (`pool`, `take`) is answered with the chain's next command, claimed
    for it and not published; it renews the lease, runs it and reports again."""

    async def scenario() -> tuple[list[str], dict[str, Any], list[dict[str, Any]]]:
        client = ServerClient(server.url, token=TOKEN)
        source = RemoteSource(client)
        try:
            execution_id = await client.start(playbook=TWO_STEPS)
            command = (await client.events(execution_id))[-1]
            item = await source.claim(Pointer(execution_id, command["command_id"], "start"))
            steps = []
            while item is not None:
                steps.append(item.command.step)
                events = await run_command(item.playbook, item.command, item.scope, Resources())
                if item.lease is not None:
                    await source.renew([(execution_id, item.command.command_id, item.token)])
                handed = await source.report(events, item.token, pool="default", take=1)
                assert len(handed) <= 1
                item = handed[0] if handed else None
            summary = await client.wait(execution_id)
            return steps, summary, await client.events(execution_id)
        finally:
            await source.close()

    steps, summary, events = asyncio.run(scenario())
    assert steps == ["start", "second"]
    assert (summary["status"], summary["result"]) == ("done", 2)
    assert_one_ending_per_step_run(summary["execution_id"], events)


def test_hand_off_and_renew_refusals(api: httpx.Client):
    started = api.post("/executions", json={"playbook": HELLO.read_text()})
    execution_id = started.json()["execution_id"]
    before = api.get(f"/executions/{execution_id}/events").json()["events"]
    command = issued(api, execution_id)[-1]
    event = {
        "type": "step.done",
        "execution_id": execution_id,
        "step": "start",
        "command_id": command["command_id"],
        "payload": {"result": "x", "vars": {}, "set_ctx": {}},
        "origin": "worker",
        "idempotency_key": f"step.end|{command['command_id']}",
    }
    for body, field in (
        ({"events": [event], "take": 1}, "pool"),
        ({"events": [event], "pool": "default", "take": -1}, "take"),
        ({"events": [event], "pool": "", "take": 1}, "pool"),
    ):
        answer = api.post("/events", json=body)
        assert answer.status_code == 422, body
        assert field in answer.text
    assert api.get(f"/executions/{execution_id}/events").json()["events"] == before
    for body in ({"held": []}, {"held": [{"execution_id": execution_id}]}, {}):
        assert api.post("/commands/renew", json=body).status_code == 422, body
    held = {"execution_id": execution_id, "command_id": "never-claimed", "claim_token": "t"}
    refused = api.post("/commands/renew", json={"held": [held]})
    assert refused.status_code == 409 and "held[0]" in refused.text, refused.text


def test_a_start_repeated_with_its_idempotency_key_returns_the_same_execution(
    api: httpx.Client,
):
    body = {"playbook": SLOW, "payload": {"n": 1}}
    first = api.post("/executions", json=body, headers={"Idempotency-Key": "order-17"})
    again = api.post("/executions", json=body, headers={"Idempotency-Key": "order-17"})
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert [e["execution_id"] for e in executions(api)] == [first.json()["execution_id"]]
    changed = {**body, "payload": {"n": 2}}
    reused = api.post("/executions", json=changed, headers={"Idempotency-Key": "order-17"})
    assert reused.status_code == 409 and "different request" in reused.text
    spaced = api.post("/executions", json=body, headers={"Idempotency-Key": "a b"})
    assert spaced.status_code == 422 and "Idempotency-Key" in spaced.text


# -- seed-compatible doors ------------------------------------------------------------------------

NOETL_FORM = """\
apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: seed, path: tests/seed}
workload: {greeting: hi}
workflow:
  - step: start
    tool: {kind: python, input: {g: "{{ greeting }}"}, code: "result = g + '!'"}
    next: {spec: {mode: exclusive}, arcs: [{step: end}]}
  - step: end
"""


def test_seed_doors_register_and_execute_a_noetl_form_playbook(api: httpx.Client):
    registered = api.post("/engine/register-playbook", json={"playbook_yaml": NOETL_FORM})
    assert registered.status_code == 201
    assert (registered.json()["path"], registered.json()["version"]) == ("tests/seed", 1)
    started = api.post("/execute", json={"path": "tests/seed", "payload": {"greeting": "yo"}})
    assert started.status_code == 201
    execution_id = started.json()["execution_id"]
    # this server has no workers: the imported playbook's first command is what is checked
    summary = api.get(f"/executions/{execution_id}").json()
    assert (summary["status"], summary["playbook_path"]) == ("running", "tests/seed")
    assert [c["step"] for c in issued(api, execution_id)] == ["start"]
    refused = api.post("/execute", json={"path": "tests/seed", "playbook": NOETL_FORM})
    assert refused.status_code == 422
