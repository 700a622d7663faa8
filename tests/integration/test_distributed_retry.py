"""`noetl retry --server` on a real local cluster (PostgreSQL, NATS, server, worker): the retry
is prepared by the server from its log, reuses what the failed execution finished and runs the
rest on the worker; a newer catalog version reruns the step that changed."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from noetl.devservers.cluster import DevCluster

pytestmark = pytest.mark.integration

NOETL = str(Path(sys.executable).with_name("noetl"))
CHAIN = """\
apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: chain, path: tests/retry/chain}
workload: {items: [1, 2, 3], fixed: false}
workflow:
  - step: start
    tool: {kind: python, code: "result = 10"}
    next: [{step: fetch}]
  - step: fetch
    loop: {in: "{{ workload.items }}", iterator: n, spec: {mode: parallel, max_in_flight: 3}}
    tool:
      kind: python
      args: {n: "{{ iter.n }}", fixed: "{{ workload.fixed }}"}
      code: |
        if n == 2 and not fixed:
            raise RuntimeError("item 2 broke")
        result = n * n
    next: [{step: load, args: {squares: "{{ fetch.results }}"}}]
  - step: load
    tool: {kind: python, args: {s: "{{ args.squares }}", base: "{{ start }}"}, code: LOAD}
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevCluster]:
    home = tmp_path_factory.mktemp("retry-cluster")
    running = DevCluster.start(home, workers=1, concurrency=4, port=0, durable=False)
    try:
        yield running
    finally:
        running.stop()


def noetl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([NOETL, *args], capture_output=True, text=True, timeout=60)


def outcome(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert done.stdout.count("\n") == 1, done.stdout + done.stderr
    return dict(json.loads(done.stdout))


def log_of(cluster: DevCluster, execution_id: str) -> list[dict[str, Any]]:
    done = noetl("events", execution_id, "--json", "--server", cluster.server_url)
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout))


def steps(log: list[dict[str, Any]], type_: str) -> list[tuple[str, int | None]]:
    return sorted((e["step"], e["iteration"]) for e in log if e["type"] == type_)


def test_retry_on_a_server_reuses_what_finished(cluster, tmp_path):
    playbook = tmp_path / "chain.yaml"
    playbook.write_text(CHAIN.replace("LOAD", json.dumps("result = base + sum(s)")))
    server = ("--server", cluster.server_url, "--wait", "--json")
    failed = outcome(noetl("execute", str(playbook), *server))
    assert failed["status"] == "failed"
    retried = outcome(noetl("retry", failed["execution_id"], "--set", "fixed=true", *server))
    assert retried["status"] == "done" and retried["result"] == 10 + 1 + 4 + 9
    log = log_of(cluster, retried["execution_id"])
    assert log[0]["payload"]["retry"]["of"] == failed["execution_id"]
    assert steps(log, "step.reused") == [("fetch", 0), ("fetch", 2), ("start", None)]
    assert steps(log, "command.issued") == [("fetch", 1), ("load", None)]


def test_retry_on_a_newer_catalog_version_reruns_the_changed_step(cluster, tmp_path):
    v1, v2 = tmp_path / "v1.yaml", tmp_path / "v2.yaml"
    v1.write_text(CHAIN.replace("LOAD", json.dumps("raise RuntimeError('load broke')")))
    v2.write_text(CHAIN.replace("LOAD", json.dumps("result = base + sum(s) + 1")))
    for file in (v1, v2):
        done = noetl("catalog", "register", str(file), "--server", cluster.server_url)
        assert done.returncode == 0, done.stderr
    server = ("--server", cluster.server_url, "--wait", "--json")
    failed = outcome(
        noetl("execute", "tests/retry/chain", "--version", "1", "--set", "fixed=true", *server)
    )
    assert failed["status"] == "failed" and failed["error"]["step"] == "load"
    retried = outcome(noetl("retry", failed["execution_id"], "--version", "2", *server))
    assert retried["status"] == "done" and retried["result"] == 10 + 1 + 4 + 9 + 1
    log = log_of(cluster, retried["execution_id"])
    assert steps(log, "step.reused") == [("fetch", None), ("start", None)]
    assert steps(log, "command.issued") == [("load", None)]
    refused = noetl("retry", retried["execution_id"], "--server", cluster.server_url)
    assert refused.returncode == 2 and "done" in refused.stderr, refused.stderr
    assert refused.stderr.count("\n") == 1
    unknown_step = noetl(
        "retry", failed["execution_id"], "--from", "nope", "--server", cluster.server_url
    )
    assert unknown_step.returncode == 2 and "'nope'" in unknown_step.stderr, unknown_step.stderr
