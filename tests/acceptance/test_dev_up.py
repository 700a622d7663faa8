"""`noetl dev up` (PostgreSQL, NATS, server, 2 workers) and the CLI's `--server` commands.

The examples run through `noetl execute FILE --server URL --wait --json` and must give the
results the embedded acceptance suite expects of `noetl run` (its expectations are reused), in
the same JSON shape. Ctrl-C on `dev up` must stop every process it started. The server
requires the admin token `dev up` generated and printed (every CLI call here sends it); the
workers hold only the worker token, which nothing prints.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from test_run_examples import ENV, EXAMPLES, EXPECTED, PAYLOADS, workload_of

NOETL = str(Path(sys.executable).with_name("noetl"))
TIMEOUT = 120  # seconds one CLI call may take


class Cluster:
    """A `noetl dev up` subprocess and the server URL it printed."""

    def __init__(self, home: Path) -> None:
        command = [NOETL, "dev", "up", "--workers", "2", "--port", "0", "--home", str(home)]
        # What the examples need from the environment is what the workers need: they run them.
        env = dict(os.environ)
        env.pop("NOETL_API_TOKEN", None)
        env.pop("NOETL_WORKER_TOKEN", None)
        for needed in ENV.values():
            env.update(needed)
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=home, env=env
        )
        self.output: list[str] = []
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)
            if line.startswith("ready"):
                break
        self.addresses = dict(line.split(None, 1) for line in self.output if "  " in line)
        assert "server" in self.addresses, "".join(self.output)
        self.url = self.addresses["server"].split()[0]
        [export] = [line for line in self.output if line.startswith("export NOETL_API_TOKEN=")]
        self.token = export.strip().split("=", 1)[1]
        self.home = home

    def cli(self, *arguments: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "NOETL_API_TOKEN": self.token}
        return subprocess.run(
            [NOETL, *arguments],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
            env=env,
        )


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    running = Cluster(tmp_path_factory.mktemp("devup"))
    try:
        yield running
    finally:
        if running.process.poll() is None:
            running.process.send_signal(signal.SIGINT)
            running.process.wait(60)
        if running.process.stdout is not None:
            running.process.stdout.close()


@pytest.fixture(scope="module")
def outcomes(cluster: Cluster) -> dict[str, subprocess.CompletedProcess[str]]:
    """Every example with its defaults and with a payload, run at once through the server."""
    jobs: dict[str, list[str]] = {}
    for name in EXPECTED:
        base = ["execute", str(EXAMPLES / name), "--server", cluster.url, "--wait", "--json"]
        jobs[name] = base
        jobs[f"{name}+payload"] = [*base, "--payload", json.dumps(PAYLOADS[name])]
    with ThreadPoolExecutor(4) as pool:
        done = pool.map(lambda args: cluster.cli(*args), jobs.values())
        return dict(zip(jobs, done, strict=True))


def result_of(outcome: subprocess.CompletedProcess[str]) -> Any:
    assert outcome.returncode == 0, outcome.stdout + outcome.stderr
    assert outcome.stdout.count("\n") == 1, outcome.stdout
    value = json.loads(outcome.stdout)
    assert set(value) == {"execution_id", "status", "result", "error"}
    assert value["status"] == "done" and value["error"] is None, value
    return value["result"]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_gives_the_embedded_result(outcomes, name):
    assert result_of(outcomes[name]) == EXPECTED[name](workload_of(name))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_with_a_payload(outcomes, name):
    workload = {**workload_of(name), **PAYLOADS[name]}
    assert result_of(outcomes[f"{name}+payload"]) == EXPECTED[name](workload)


def test_inspect_commands_against_the_server(cluster: Cluster, outcomes, tmp_path: Path):
    execution_id = json.loads(outcomes["hello.yaml"].stdout)["execution_id"]
    listed = json.loads(
        cluster.cli(
            "executions", "list", "--json", "--limit", "500", "--server", cluster.url
        ).stdout
    )
    assert execution_id in {row["execution_id"] for row in listed}
    shown = cluster.cli("executions", "show", execution_id, "--server", cluster.url)
    status = cluster.cli("status", execution_id, "--server", cluster.url)
    assert json.loads(shown.stdout) == json.loads(status.stdout)
    assert json.loads(status.stdout)["status"] == "done"
    remote = json.loads(
        cluster.cli("events", execution_id, "--json", "--server", cluster.url).stdout
    )
    db = str(tmp_path / "noetl.db")
    local_run = json.loads(
        cluster.cli("run", str(EXAMPLES / "hello.yaml"), "--json", "--db", db).stdout
    )
    local = json.loads(
        cluster.cli("events", local_run["execution_id"], "--json", "--db", db).stdout
    )
    assert [(e["type"], e["step"]) for e in remote] == [(e["type"], e["step"]) for e in local]
    assert [set(e) for e in remote] == [set(e) for e in local]
    missing = cluster.cli("status", "1234", "--server", cluster.url)
    assert missing.returncode == 1 and "not found" in missing.stderr


def test_catalog_register_then_execute_by_path(cluster: Cluster):
    hello = str(EXAMPLES / "hello.yaml")
    first = cluster.cli("catalog", "register", hello, "--json", "--server", cluster.url)
    assert first.returncode == 0, first.stderr
    entry = json.loads(first.stdout)
    assert entry["path"] == "examples/hello"
    again = json.loads(
        cluster.cli("catalog", "register", hello, "--json", "--server", cluster.url).stdout
    )
    assert (again["version"], again["created"]) == (entry["version"], False)
    run = cluster.cli(
        "execute",
        "examples/hello",
        "--server",
        cluster.url,
        "--set",
        "name=Grace",
        "--wait",
        "--json",
    )
    assert result_of(run) == "Hello, Grace!"


def test_db_migrate_on_the_cluster_database(cluster: Cluster):
    dsn = cluster.addresses["postgres"].strip()
    migrated = cluster.cli("db", "migrate", "--pg", dsn)
    assert migrated.returncode == 0, migrated.stderr
    assert "up to date" in migrated.stdout  # the server applied them at start


def test_execute_refuses_bad_input_before_sending(cluster: Cluster, tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: noetl.io/v2\nkind: Playbook\nmetadata: {name: b}\nworkflow: 3\n")
    invalid = cluster.cli("execute", str(bad), "--server", cluster.url, "--wait")
    assert invalid.returncode == 2 and f"{bad}:4:" in invalid.stderr
    unknown = cluster.cli("execute", "no/such/path", "--server", cluster.url)
    assert unknown.returncode == 2 and "no/such/path" in unknown.stderr


def _get(url: str, token: str | None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as refused:
        return refused.code


def test_the_printed_token_opens_the_api_and_nothing_else_does(cluster: Cluster):
    assert len(cluster.token) >= 32
    executions = f"{cluster.url}/api/v2/executions"
    assert _get(executions, cluster.token) == 200
    assert _get(executions, None) == 401
    assert _get(executions, cluster.token[:-1]) == 401
    without = subprocess.run(
        [NOETL, "executions", "list", "--server", cluster.url],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env={k: v for k, v in os.environ.items() if k != "NOETL_API_TOKEN"},
    )
    assert without.returncode != 0 and "401" in without.stderr + without.stdout


def test_workers_hold_only_the_worker_token_and_no_log_shows_a_token(cluster: Cluster, outcomes):
    workers = [
        pid for pid in _descendants(cluster.process.pid) if b"worker\0start" in _cmdline(pid)
    ]
    assert len(workers) == 2
    environments = [_environ(pid) for pid in workers]
    assert all("NOETL_API_TOKEN" not in environment for environment in environments)
    [worker_token] = {environment["NOETL_WORKER_TOKEN"] for environment in environments}
    assert len(worker_token) >= 32 and worker_token != cluster.token
    printed = "".join(cluster.output)
    assert worker_token not in printed and printed.count(cluster.token) == 1
    logs = {log.name: log.read_text() for log in (cluster.home / "logs").glob("*.log")}
    assert {"server.log", "worker-1.log", "worker-2.log"} <= set(logs)
    for name, text in logs.items():
        assert worker_token not in text and cluster.token not in text, name


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().decode()
    return dict(item.split("=", 1) for item in raw.split("\0") if "=" in item)


def test_ctrl_c_stops_every_process(cluster: Cluster, outcomes):
    children = _descendants(cluster.process.pid)
    assert len(children) >= 5  # postgres (several), nats, server, two workers
    cluster.process.send_signal(signal.SIGINT)
    assert cluster.process.wait(60) == 0
    deadline = time.monotonic() + 30
    while any(_alive(pid) for pid in children):
        assert time.monotonic() < deadline, [p for p in children if _alive(p)]
        time.sleep(0.1)
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{cluster.url}/api/v2/health", timeout=2)


def _descendants(pid: int) -> list[int]:
    found: list[int] = []
    for status in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = status.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            child = int(status.parent.name)
            found += [child, *_descendants(child)]
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
