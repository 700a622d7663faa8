"""No single request stalls or bloats the server (D5, D7): YAML bombs and recursive aliases are
refused with their place, and a template over its budget fails its execution, while the server
keeps answering."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from noetl.config import Settings
from support.live_server import LiveServer, api_client

BOMB = (
    "apiVersion: noetl.io/v2\nkind: Playbook\nmetadata: {name: lol}\nworkload:\n"
    + "\n".join(
        ["  a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
        + [f"  a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    )
    + "\nworkflow:\n  - step: start\n"
)
CPU_WHEN = """\
apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: cpu_when}
workload: {n: 7000}
workflow:
  - step: start
    next:
      - step: end
        when: >-
          {% for i in range(100000) %}{% for j in range(workload.n) %}{% endfor %}{% endfor %}true
  - step: end
"""
RECURSIVE = BOMB.split("workload:")[0] + "workload: &w {self: *w}\nworkflow:\n  - step: start\n"


@pytest.fixture
def api(tmp_path: Path) -> Iterator[httpx.Client]:
    settings = Settings(home=tmp_path, db=tmp_path / "noetl.db")
    with LiveServer(settings) as live, api_client(live, None) as client:
        yield client


def test_yaml_bombs_and_recursive_aliases_are_422_with_their_place(api: httpx.Client):
    for route, body in (("/executions", "playbook"), ("/catalog", "content")):
        for text, line, says in ((BOMB, 10, "YAML nodes"), (RECURSIVE, 4, "recursive alias")):
            answer = api.post(route, json={body: text})
            assert answer.status_code == 422, answer.text
            [problem] = answer.json()["error"]["problems"]
            assert problem["line"] == line and says in problem["message"]
    assert api.get("/executions").json()["executions"] == []


def test_a_guard_over_its_budget_fails_the_execution_and_the_server_keeps_answering(
    api: httpx.Client,
):
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        starts = [
            pool.submit(api.post, "/executions", json={"playbook": CPU_WHEN}) for _ in range(3)
        ]
        bombs = [pool.submit(api.post, "/executions", json={"playbook": BOMB}) for _ in range(3)]
        # Meanwhile the server answers: a stalled event loop would time these out.
        health = [api.get("/health", timeout=5.0).status_code for _ in range(5)]
        started = [f.result().json()["execution_id"] for f in starts]
        assert [f.result().status_code for f in bombs] == [422] * 3
    assert health == [200] * 5
    for execution_id in started:
        summary = api.get(f"/executions/{execution_id}", params={"wait": 30}).json()
        assert summary["status"] == "failed"
        assert "NOETL_TEMPLATE_ITERATIONS" in summary["error"]["message"]
