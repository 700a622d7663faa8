"""Observing a distributed NoETL on a real local cluster (PostgreSQL, NATS, server, workers):
the worker registry, true event times, the metrics scrape."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from noetl.client.transport import ServerClient
from noetl.devservers.cluster import DevCluster
from support.playbooks import BACKOFF, assert_backoff_gaps
from support.waiting import wait_for

HEARTBEAT = 1  # seconds: a worker is lost after 3 silent ones
POLL = 0.2  # seconds between `noetl workers list` calls while waiting (each a subprocess)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevCluster]:
    home = tmp_path_factory.mktemp("observed")
    running = DevCluster.start(home, workers=0, ack_wait=3, durable=False, heartbeat=HEARTBEAT)
    try:
        running.add_worker(worker_id="steady")
        yield running
    finally:
        running.stop()


def workers_cli(cluster: DevCluster) -> dict[str, dict[str, Any]]:
    """`noetl workers list --server URL --json`, by worker id."""
    command = ["workers", "list", "--server", cluster.server_url, "--json"]
    answer = subprocess.run(
        [sys.executable, "-m", "noetl", *command],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return {w["worker_id"]: w for w in json.loads(answer.stdout)["workers"]}


VICTIM_POOL = """\
apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: held}
executor: {kind: auto, spec: {pool: victims}}
workflow:
  - step: start
    tool: {kind: python, code: "import time\\ntime.sleep(120)\\nresult = 1"}
"""


def test_workers_register_and_a_sigkilled_one_is_lost_and_named_by_its_claims(cluster):
    victim = cluster.add_worker(worker_id="victim", pool="victims")
    both = wait_for(
        lambda: (w := workers_cli(cluster)) and {"steady", "victim"} <= set(w) and w, every=POLL
    )
    for name, pool in (("steady", "default"), ("victim", "victims")):
        worker = both[name]
        assert worker["status"] == "alive"
        assert (worker["pool"], worker["slots"], worker["busy"]) == (pool, 16, 0)
        assert worker["running"] == []
        assert worker["version"] and worker["started_at"] and worker["last_heartbeat"]

    async def start() -> str:
        client = ServerClient(cluster.server_url)
        try:
            return await client.start(playbook=VICTIM_POOL)
        finally:
            await client.aclose()

    execution_id = asyncio.run(start())  # only the victim serves pool `victims`
    wait_for(lambda: workers_cli(cluster)["victim"]["busy"] == 1, every=POLL)
    killed_at = time.monotonic()
    victim.send_signal(signal.SIGKILL)
    victim.wait(10)
    cluster.workers.remove(victim)
    lost = wait_for(
        lambda: workers_cli(cluster)["victim"]["status"] == "lost", timeout=20, every=POLL
    )
    waited = time.monotonic() - killed_at
    assert lost
    assert waited < 3 * HEARTBEAT + 10  # within its timeout (plus the CLI's own start-up)
    assert workers_cli(cluster)["steady"]["status"] == "alive"

    async def claims_then_cancel() -> list[dict[str, Any]]:
        client = ServerClient(cluster.server_url)
        try:
            events = (await client.call("GET", f"/executions/{execution_id}/events"))["events"]
            await client.cancel(execution_id)  # nobody serves its pool any more
            return [e for e in events if e["type"] == "command.claimed"]
        finally:
            await client.aclose()

    claims = asyncio.run(claims_then_cancel())
    assert [(c["step"], c["payload"]["worker_id"]) for c in claims] == [("start", "victim")]


def test_a_busy_worker_lists_the_commands_it_runs(cluster):
    slow = """\
apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: slow}
workflow:
  - step: start
    tool: {kind: python, code: "import time\\ntime.sleep(4)\\nresult = 1"}
"""

    async def scenario() -> tuple[list[dict[str, Any]], dict[str, Any]]:
        client = ServerClient(cluster.server_url)
        try:
            execution_id = await client.start(playbook=slow)
            seen: list[dict[str, Any]] = []
            for _ in range(60):
                listed = (await client.call("GET", "/workers"))["workers"]
                seen = [w for w in listed if w["worker_id"] == "steady" and w["busy"]]
                if seen:
                    break
                await asyncio.sleep(0.2)
            return seen, await client.wait(execution_id)
        finally:
            await client.aclose()

    seen, summary = asyncio.run(scenario())
    assert summary["status"] == "done"
    assert seen and seen[0]["busy"] == 1
    assert seen[0]["running"] == [f"{summary['execution_id']}:start:1:1:-"]


def test_a_worker_that_stops_cleanly_leaves_the_registry(cluster):
    leaving = cluster.add_worker(worker_id="leaving")
    wait_for(lambda: "leaving" in workers_cli(cluster), every=POLL)
    leaving.send_signal(signal.SIGTERM)
    leaving.wait(30)
    cluster.workers.remove(leaving)
    assert "leaving" not in workers_cli(cluster)


BACKOFF_PLAYBOOK = "apiVersion: noetl.io/v2\nkind: Playbook\nmetadata: {name: backoff}\n" + BACKOFF


def test_worker_events_keep_their_own_times_and_name_their_worker(cluster):
    async def scenario() -> tuple[str, dict[str, Any]]:
        client = ServerClient(cluster.server_url)
        try:
            execution_id = await client.start(playbook=BACKOFF_PLAYBOOK)
            return execution_id, await client.wait(execution_id)
        finally:
            await client.aclose()

    execution_id, summary = asyncio.run(scenario())
    assert summary["status"] == "done" and summary["result"] == 4
    command = ["events", execution_id, "--follow", "--json", "--server", cluster.server_url]
    followed = subprocess.run(
        [sys.executable, "-m", "noetl", *command],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    log = [json.loads(line) for line in followed.stdout.splitlines()]
    assert log[-1]["type"] == "playbook.done"
    attempts = assert_backoff_gaps(log)
    [started] = [e for e in log if e["type"] == "command.started"]
    [done] = [e for e in log if e["type"] == "step.done"]
    assert started["payload"] == {"worker_id": "steady", "attempt": 1}
    assert {e["payload"]["worker_id"] for e in [*attempts, done]} == {"steady"}
    assert done["payload"]["attempt"] == 1 and done["payload"]["duration_ms"] >= 2100


FANOUT = """\
apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: fanout}
workflow:
  - step: start
    spec: {next_mode: inclusive}
    next:
      - {step: flaky, when: "{{ true }}"}
      - {step: steady, when: "{{ true }}"}
      - {step: never, when: "{{ false }}"}
  - step: flaky
    tool:
      - once:
          kind: python
          args: {attempt: "{{ _attempt }}"}
          code: |
            if attempt == 1:
                raise ConnectionError("first attempt fails")
            result = attempt
          eval:
            - expr: "{{ outcome.status == 'error' }}"
              do: retry
              attempts: 3
              delay: 10ms
  - step: steady
    tool: {kind: python, code: "result = 1"}
  - step: never
    tool: {kind: python, code: "result = 0"}
"""
BROKEN = """\
apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: broken}
workflow:
  - step: start
    tool: {kind: python, code: "raise ValueError('no')"}
"""
FAMILIES = {
    "noetl_event_processing_seconds": "histogram",
    "noetl_commands_issued": "counter",
    "noetl_queue_depth": "gauge",
    "noetl_claims": "counter",
    "noetl_redeliveries": "counter",
    "noetl_dead_letters": "counter",
    "noetl_worker_slots": "gauge",
    "noetl_worker_busy_slots": "gauge",
    "noetl_arcs_evaluated": "counter",
    "noetl_arcs_taken": "counter",
    "noetl_task_attempts": "counter",
    "noetl_task_retries": "counter",
    "noetl_task_failures": "counter",
    "noetl_step_duration_seconds": "histogram",
    "noetl_executions_started": "counter",
    "noetl_executions_finished": "counter",
    "noetl_executions_running": "gauge",
    "noetl_bus_pending": "gauge",
    "noetl_bus_ack_pending": "gauge",
    "noetl_events_appended": "counter",
    "noetl_request_seconds": "histogram",
}


def scrape(cluster: DevCluster) -> dict[str, Any]:
    """Every sample of /metrics: family -> {(sample name, sorted labels): value}, and types."""
    with urllib.request.urlopen(f"{cluster.server_url}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    found: dict[str, Any] = {}
    for family in text_string_to_metric_families(text):
        samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for s in family.samples}
        found[family.name] = (family.type, samples)
    return found


def value(found: dict[str, Any], family: str, sample: str, **labels: str) -> float:
    return found[family][1].get((sample, tuple(sorted(labels.items()))), 0.0)


def test_metrics_scrape_around_a_distributed_run_with_a_retry_a_failure_and_a_fan_out(cluster):
    before = scrape(cluster)

    async def scenario() -> list[dict[str, Any]]:
        client = ServerClient(cluster.server_url)
        try:
            ids = [await client.start(playbook=FANOUT), await client.start(playbook=BROKEN)]
            return [await client.wait(i) for i in ids]
        finally:
            await client.aclose()

    fanned, broken = asyncio.run(scenario())
    assert (fanned["status"], broken["status"]) == ("done", "failed")
    time.sleep(2 * HEARTBEAT)  # the workers' gauges come with their heartbeats
    after = scrape(cluster)
    assert {name: after[name][0] for name in FAMILIES if name in after} == FAMILIES

    def moved(family: str, sample: str, **labels: str) -> float:
        return value(after, family, sample, **labels) - value(before, family, sample, **labels)

    assert moved("noetl_executions_started", "noetl_executions_started_total") == 2
    assert moved("noetl_executions_finished", "noetl_executions_finished_total", status="done") == 1
    assert (
        moved("noetl_executions_finished", "noetl_executions_finished_total", status="failed") == 1
    )
    assert value(after, "noetl_executions_running", "noetl_executions_running") == 0
    issued = moved(
        "noetl_commands_issued", "noetl_commands_issued_total", pool="default", tool_kind="python"
    )
    assert issued == 3  # flaky, steady, broken's start (never's guard is false)
    evaluated = {"playbook": "fanout", "step": "start"}
    assert moved("noetl_arcs_evaluated", "noetl_arcs_evaluated_total", **evaluated) == 3
    assert moved("noetl_arcs_taken", "noetl_arcs_taken_total", **evaluated) == 2
    attempts = "noetl_task_attempts", "noetl_task_attempts_total"
    assert moved(*attempts, tool_kind="python", status="success") == 2
    assert moved(*attempts, tool_kind="python", status="error") == 2
    failures = "noetl_task_failures", "noetl_task_failures_total"
    retries = "noetl_task_retries", "noetl_task_retries_total"
    assert moved(*failures, tool_kind="python", error_kind="python") == 2
    assert moved(*retries, tool_kind="python", error_kind="python") == 1
    won = moved("noetl_claims", "noetl_claims_total", outcome="won")
    handed = moved("noetl_claims", "noetl_claims_total", outcome="handed")
    assert won + handed == 3
    durations = "noetl_step_duration_seconds", "noetl_step_duration_seconds_count"
    assert moved(*durations, playbook="fanout", tool_kind="python") == 2
    assert moved(*durations, playbook="broken", tool_kind="python") == 1
    processing = "noetl_event_processing_seconds", "noetl_event_processing_seconds_count"
    assert moved(*processing, stage="issued") > 0
    assert value(after, "noetl_queue_depth", "noetl_queue_depth", pool="default") == 0
    assert value(after, "noetl_bus_pending", "noetl_bus_pending", pool="default") == 0
    assert value(after, "noetl_bus_ack_pending", "noetl_bus_ack_pending", pool="default") == 0
    assert (
        value(after, "noetl_worker_slots", "noetl_worker_slots", worker_id="steady", pool="default")
        == 16
    )
    assert value(after, "noetl_dead_letters", "noetl_dead_letters_total") == 0
    assert moved("noetl_events_appended", "noetl_events_appended_total") > 20


def test_task_output_is_kept_per_attempt_and_served_by_the_api_and_noetl_logs(cluster):
    chatty = """\
apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: chatty}
workflow:
  - step: start
    loop: {in: [1, 2], iterator: n}
    tool: {kind: python, args: {n: "{{ iter.n }}"}, code: "print('item', n)\\nresult = n"}
"""

    async def scenario() -> tuple[str, dict[str, Any], dict[str, Any]]:
        client = ServerClient(cluster.server_url)
        try:
            execution_id = await client.start(playbook=chatty)
            summary = await client.wait(execution_id)
            logs = await client.call("GET", f"/executions/{execution_id}/logs")
            return execution_id, summary, logs
        finally:
            await client.aclose()

    execution_id, summary, logs = asyncio.run(scenario())
    assert summary["status"] == "done"
    entries = sorted(logs["logs"], key=lambda e: e["iteration"])
    assert [(e["iteration"], e["output"], e["worker_id"]) for e in entries] == [
        (0, "item 1\n", "steady"),
        (1, "item 2\n", "steady"),
    ]
    command = ["logs", execution_id, "--step", "start", "--server", cluster.server_url]
    shown = subprocess.run(
        [sys.executable, "-m", "noetl", *command],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "item 1" in shown.stdout and "item 2" in shown.stdout
    assert "== start[0] task start attempt 1 success on steady" in shown.stdout
