"""What the web UI reads besides the plain REST API: SSE streams of the log, step progress,
playbook checks, list filters and pages; against a real server with in-process workers (SQLite log,
in-process workers), so the runs the tests start really execute."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from noetl.config import Settings
from support.live_server import LiveServer, api_client
from support.ui_server import UiProcess

TOKEN = "ui-api-token-93b1"
WAIT = """\
apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: wait, path: t/wait}
workload: {flag: "", n: 3}
workflow:
  - step: start
    tool:
      kind: python
      args: {flag: "{{ workload.flag }}"}
      code: |
        import os, time
        deadline = time.monotonic() + 60
        while not os.path.exists(flag) and time.monotonic() < deadline:
            time.sleep(0.02)
    next: [{step: many}]
  - step: many
    loop: {in: "{{ range(workload.n) | list }}", iterator: i}
    tool: {kind: noop}
"""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    settings = Settings(home=tmp_path, db=tmp_path / "noetl.db", api_token=TOKEN)
    with LiveServer(settings, local_workers=4) as live:
        yield live


@pytest.fixture
def api(server: LiveServer) -> Iterator[httpx.Client]:
    with api_client(server, TOKEN) as client:
        client.post("/catalog", json={"content": WAIT}).raise_for_status()
        yield client


def start(api: httpx.Client, flag: Path, n: int = 3) -> str:
    answer = api.post(
        "/executions", json={"path": "t/wait", "payload": {"flag": str(flag), "n": n}}
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["execution_id"])


def messages(response: httpx.Response) -> Iterator[dict[str, Any]]:
    """SSE messages of a streamed response: {event, id, data} (comments skipped)."""
    block: dict[str, Any] = {}
    for line in response.iter_lines():
        if not line:
            if "data" in block:
                yield {**block, "data": json.loads(block["data"])}
            block = {}
        elif not line.startswith(":"):
            field, _, value = line.partition(": ")
            block[field] = value


def test_an_execution_stream_sends_every_event_once_in_order_and_ends(api, tmp_path):
    flag = tmp_path / "go"
    execution_id = start(api, flag)
    seqs: list[int] = []
    with api.stream("GET", f"/executions/{execution_id}/events/stream") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        for message in messages(response):
            if message["event"] == "events":
                batch = [event["seq"] for event in message["data"]]
                assert int(message["id"]) == batch[-1]
                seqs += batch
                flag.touch()  # after the first batch: the rest arrives live
            else:
                assert message["event"] == "end"
                break
    log = api.get(f"/executions/{execution_id}/events").json()["events"]
    assert seqs == [event["seq"] for event in log] == list(range(1, len(log) + 1))
    assert log[-1]["type"] == "playbook.done"


def test_a_reconnect_resumes_after_last_event_id(api, tmp_path):
    flag = tmp_path / "go"
    flag.touch()
    execution_id = start(api, flag)
    api.get(f"/executions/{execution_id}", params={"wait": 30})
    headers = {"last-event-id": "4"}
    stream = f"/executions/{execution_id}/events/stream"
    with api.stream("GET", stream, headers=headers, params={"after_seq": 1}) as response:
        first = next(messages(response))
    assert first["data"][0]["seq"] == 5  # the header wins over after_seq: a reconnect
    bad = api.get(stream, headers={"last-event-id": "x"})
    assert bad.status_code == 422 and "Last-Event-ID" in bad.json()["error"]["message"]
    assert api.get("/executions/nope/events/stream").status_code == 404


def test_the_list_stream_sends_executions_that_start_and_end(api, tmp_path):
    flag = tmp_path / "go"
    flag.touch()
    with api.stream("GET", "/executions/stream") as response:
        execution_id = start(api, flag)
        seen: dict[str, str] = {}
        for message in messages(response):
            assert message["event"] == "executions"
            seen.update({s["execution_id"]: s["status"] for s in message["data"]})
            if seen.get(execution_id) == "done":
                break
    assert seen[execution_id] == "done"


def test_steps_fold_the_log_into_states_loop_counts_and_where_values_are(api, tmp_path):
    flag = tmp_path / "go"
    flag.touch()
    execution_id = start(api, flag, n=25)
    api.get(f"/executions/{execution_id}", params={"wait": 30})
    view = api.get(f"/executions/{execution_id}/steps").json()
    assert view["execution"]["status"] == "done"
    assert view["playbook"]["name"] == "wait" and "source" not in view["playbook"]
    assert view["playbook"]["catalog"] == {"path": "t/wait", "version": 1}  # to run it again
    first = api.get(f"/executions/{execution_id}/events", params={"limit": 1}).json()["events"]
    assert first[0]["payload"]["payload"] == {"flag": str(flag), "n": 25}  # what run again reads
    assert view["steps"]["start"]["state"] == "done"
    assert view["steps"]["many"]["runs"][0]["loop"] == {"total": 25, "done": 25, "failed": 0}
    log = api.get(f"/executions/{execution_id}/events").json()["events"]
    seq = {(e["type"], e["step"]): e["seq"] for e in log if e["iteration"] is None}
    assert view["steps"]["start"]["args_seq"] == seq[("step.started", "start")]
    assert view["steps"]["start"]["result_seq"] == seq[("step.done", "start")]
    assert view["steps"]["many"]["result_seq"] is None  # a loop's results are its iterations'
    [worker] = view["steps"]["many"]["runs"][0]["workers"]  # named by the iterations' endings
    assert worker and view["steps"]["start"]["runs"][0]["workers"] == [worker]
    missing = api.get("/executions/404/steps")
    assert missing.status_code == 404 and "404" in missing.json()["error"]["message"]


def test_check_reports_problems_at_their_line_and_lays_out_a_valid_graph(api):
    bad = api.post("/playbooks/check", json={"content": WAIT.replace("{step: many}", "{step: x}")})
    answer = bad.json()
    assert bad.status_code == 200 and answer["valid"] is False
    assert [(p["line"], p["severity"], p["message"]) for p in answer["problems"]] == [
        (15, "error", "next: unknown step 'x'"),
        (16, "warning", "step 'many' can never be reached from the entry step 'start'"),
    ]
    good = api.post("/playbooks/check", json={"content": WAIT}).json()
    assert good["valid"] and good["workload"] == {"flag": "", "n": 3}
    assert [node["id"] for node in good["graph"]["nodes"]] == ["start", "many"]
    empty = api.post("/playbooks/check", json={"content": ""})
    assert empty.status_code == 422 and "content" in empty.json()["error"]["message"]


def test_the_list_pages_by_key_and_refuses_a_bad_filter_naming_it(api, tmp_path):
    flag = tmp_path / "go"
    flag.touch()
    ids = [start(api, flag) for _ in range(3)]
    first = api.get("/executions", params={"limit": 2}).json()
    assert [e["execution_id"] for e in first["executions"]] == ids[::-1][:2]
    rest = api.get("/executions", params={"limit": 2, "before": first["next"]}).json()
    assert [e["execution_id"] for e in rest["executions"]] == [ids[0]] and rest["next"] is None
    mine = api.get("/executions", params={"playbook": "t/wait", "since": "2000-01-01T00:00"})
    assert len(mine.json()["executions"]) == 3
    assert api.get("/executions", params={"playbook": "other"}).json()["executions"] == []
    bad = api.get("/executions", params={"since": "yesterday"})
    assert bad.status_code == 422 and "since" in bad.json()["error"]["message"]
    assert [e["playbook_version"] for e in first["executions"]] == [1, 1]  # from the catalog
    shared = ids[0][:-3]  # started within microseconds: ids with a long start in common
    found = api.get("/executions", params={"id_prefix": shared}).json()["executions"]
    assert {e["execution_id"] for e in found} >= {i for i in ids if i.startswith(shared)}
    [one] = api.get("/executions", params={"id_prefix": ids[1]}).json()["executions"]
    assert one["execution_id"] == ids[1]
    odd = api.get("/executions", params={"id_prefix": "1%"})
    assert odd.status_code == 422 and "id_prefix" in odd.json()["error"]["message"]


def test_pages_are_served_without_the_token_and_the_api_still_needs_it(server):
    for path in ("/", "/executions/123", "/playbooks", "/playbooks/a/b", "/workers"):
        page = httpx.get(server.url + path)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert 'type="module"' in page.text
    assert httpx.get(server.url + "/ui/static/js/api.js").status_code == 200
    missing = httpx.get(server.url + "/no/such/page")
    assert missing.status_code == 404 and 'data-page="missing"' in missing.text
    assert httpx.get(server.url + "/api/v2/executions").status_code == 401
    assert httpx.get(server.url + "/metrics").status_code == 401
    unknown = httpx.get(server.url + "/api/v2/nope", headers={"authorization": f"Bearer {TOKEN}"})
    assert unknown.status_code == 404 and unknown.json()["error"]["kind"] == "not_found"


def test_events_narrow_to_types_and_a_step_and_refuse_an_unknown_type(api, tmp_path):
    flag = tmp_path / "go"
    flag.touch()
    execution_id = start(api, flag, n=4)
    api.get(f"/executions/{execution_id}", params={"wait": 30})
    url = f"/executions/{execution_id}/events"
    log = api.get(url).json()["events"]
    ends = api.get(url, params={"type": ["step.done", "loop.done"], "step": "many"}).json()
    expected = [
        e["seq"] for e in log if e["type"] in ("step.done", "loop.done") and e["step"] == "many"
    ]
    assert [e["seq"] for e in ends["events"]] == expected and len(expected) == 5
    bad = api.get(url, params={"type": "step.exploded"})
    assert bad.status_code == 422 and "type" in bad.json()["error"]["message"]


def test_open_streams_do_not_hold_a_stopping_server_up(tmp_path):
    """`noetl ui` (and `noetl server start`, same code) ends its streams when asked to stop."""
    with UiProcess.start(["ui", "--home", str(tmp_path)], tmp_path) as ui:
        client = httpx.Client(base_url=ui.url + "/api/v2", timeout=60)
        with client.stream("GET", "/executions/stream") as response:
            lines = response.iter_lines()
            assert next(lines) == "retry: 2000"
            ui.process.send_signal(signal.SIGTERM)
            rest = list(lines)  # the server ends the stream
        # uvicorn re-raises the signal it caught once it has shut down cleanly
        assert ui.process.wait(60) in (0, -signal.SIGTERM)
        assert all(line.startswith(":") or not line for line in rest)
        log = ui.log.read_text()
        assert "graceful shutdown exceeded" not in log and "Traceback" not in log, log
        client.close()
