"""The NoETL project's own e2e fixtures, run unchanged through `noetl run`.

The fixtures (copied with their licence, see `tests/fixtures/noetl_e2e/NOTICE.md`) are written
in NoETL's newer form: each run goes through the importer on load. Fixtures that call an HTTP
service are pointed at the copied test server by payload; PostgreSQL ones reach the test
database through the credential names they use. All runs happen once per session, a few at a
time; each case then checks its outcome against `cases.yaml`.
"""

from __future__ import annotations

import base64
import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

NOETL = str(Path(sys.executable).with_name("noetl"))
ROOT = Path(__file__).parents[1] / "fixtures" / "noetl_e2e"
CASES = yaml.safe_load((ROOT / "cases.yaml").read_text())
RUN_TIMEOUT = 240  # seconds; the heaviest fixtures page through thousands of rows
PARALLEL_RUNS = 3
SERVICE_HOST = re.compile(r"https?://paginated-api[^/\"']*")
PG_CREDENTIALS = ("pg_k8s", "pg_local", "pg_auth", "test_postgres")
# The first case's setup runs every fixture (PARALLEL_RUNS at a time): on a shared, loaded
# machine that takes longer than the suite's default 300 s per test.
pytestmark = pytest.mark.timeout(1200)


@dataclass(frozen=True)
class Run:
    """How one fixture's `noetl run --json` ended, and its step results."""

    code: int
    outcome: dict[str, Any]
    output: str
    steps_done: dict[str, Any]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def test_server() -> Iterator[str]:
    """The e2e repository's paginated test API (FastAPI), on a free local port."""
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "paginated_api:app",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=ROOT / "fixtures" / "servers",
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                httpx.get(f"{url}/api/v1/concurrency/stats", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture(scope="session")
def e2e_runs(
    tmp_path_factory: pytest.TempPathFactory, pg_dsn: str, test_server: str
) -> dict[str, Run]:
    """Every case of `cases.yaml`, run once: file -> Run."""
    home = tmp_path_factory.mktemp("noetl_e2e")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOETL_")}
    env.update(NOETL_SECRET_KEY=_secret_key(), NOETL_HOME=str(home))
    db = home / "noetl.db"
    for name in PG_CREDENTIALS:
        data = json.dumps({"dsn": pg_dsn})
        _noetl(
            env, "credentials", "set", name, "--type", "postgres", "--db", str(db), "--data", data
        )
    for file in CASES["sub_playbooks"]:
        _noetl(env, "catalog", "register", str(ROOT / file), "--db", str(db))
    files = [case["file"] for case in CASES["cases"]]
    with ThreadPoolExecutor(PARALLEL_RUNS) as pool:
        runs = pool.map(lambda f: _run(f, env, db, test_server), files)
        return dict(zip(files, runs, strict=True))


def _secret_key() -> str:
    return base64.urlsafe_b64encode(b"noetl-e2e-acceptance-test-key-32").decode()


def _noetl(env: dict[str, str], *args: str) -> None:
    done = subprocess.run([NOETL, *args], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def _payload(file: str, service: str) -> dict[str, Any]:
    """Workload values naming the e2e test server, pointed at the local one."""
    workload = yaml.safe_load((ROOT / file).read_text()).get("workload") or {}
    return {
        key: SERVICE_HOST.sub(service, value)
        for key, value in workload.items()
        if isinstance(value, str) and SERVICE_HOST.search(value)
    }


def _run(file: str, env: dict[str, str], db: Path, service: str) -> Run:
    payload = json.dumps(_payload(file, service))
    args = [NOETL, "run", file, "--json", "--db", str(db), "--payload", payload]
    try:
        done = subprocess.run(
            args, capture_output=True, text=True, env=env, cwd=ROOT, timeout=RUN_TIMEOUT
        )
    except subprocess.TimeoutExpired:
        return Run(-9, {}, f"timed out after {RUN_TIMEOUT}s", {})
    lines = [line for line in done.stdout.splitlines() if line.startswith('{"execution_id"')]
    outcome = json.loads(lines[-1]) if lines else {}
    # a run refused before it started (invalid input) prints an outcome without an id
    steps = _steps_done(env, db, outcome["execution_id"]) if outcome.get("execution_id") else {}
    return Run(done.returncode, outcome, done.stdout + done.stderr, steps)


def _steps_done(env: dict[str, str], db: Path, execution_id: str) -> dict[str, Any]:
    """Step name -> result of its last `step.done` (results by reference are left as such)."""
    done = subprocess.run(
        [NOETL, "events", execution_id, "--json", "--db", str(db)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    steps: dict[str, Any] = {}
    for event in json.loads(done.stdout):
        if event["type"] == "step.done" and event.get("iteration") is None:
            steps[event["step"]] = event["payload"].get("result")
    return steps


def _field(value: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        assert isinstance(value, dict) and part in value, f"no field '{dotted}' in {value!r}"
        value = value[part]
    return value


@pytest.mark.parametrize("case", CASES["cases"], ids=[c["file"] for c in CASES["cases"]])
def test_noetl_e2e_fixture(case: dict[str, Any], e2e_runs: dict[str, Run]) -> None:
    run = e2e_runs[case["file"]]
    if "gap" in case:  # a known shortfall: it must fail, saying so (see cases.yaml)
        assert run.code != 0, f"{case['file']} now passes: remove its gap\n{run.output}"
        message = (run.outcome.get("error") or {}).get("message", "")
        assert case["gap"] in message + run.output, run.output
        return
    assert run.code == 0 and run.outcome.get("status") == "done", run.output
    for step in case.get("steps_done", []):
        assert step in run.steps_done, f"step '{step}' did not end done: {sorted(run.steps_done)}"
    for step, checks in (case.get("results") or {}).items():
        for dotted, expected in checks.items():
            assert _field(run.steps_done[step], dotted) == expected, (step, dotted)


def test_every_copied_fixture_is_a_case_or_a_sub_playbook() -> None:
    listed = {case["file"] for case in CASES["cases"]} | set(CASES["sub_playbooks"])
    copied = {
        str(path.relative_to(ROOT)) for path in (ROOT / "fixtures" / "playbooks").rglob("*.yaml")
    }
    assert copied == listed
    assert os.path.isfile(ROOT / "LICENSE") and "1e41859c" in (ROOT / "NOTICE.md").read_text()
