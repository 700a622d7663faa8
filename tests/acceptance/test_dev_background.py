"""`noetl dev up --background` starts a cluster and returns; a worker that dies is reported and
replaced; `noetl dev down` stops the cluster (and says so when there is none). The admin token
is printed by the command that returns, never written to the detached cluster's log; a token
already set in the environment is used and not printed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

NOETL = str(Path(sys.executable).with_name("noetl"))
HELLO = Path(__file__).parents[2] / "examples" / "hello.yaml"
PATIENCE = 60.0


def noetl(*args: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_TOKEN", "_WORKER_TOKEN"))}
    if token is not None:
        env["NOETL_API_TOKEN"] = token
    return subprocess.run([NOETL, *args], capture_output=True, text=True, timeout=180, env=env)


def children(pid: int, marker: str) -> list[int]:
    """Processes whose parent is `pid` and whose command line contains `marker`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, IndexError, ValueError):
            continue
        if parent == pid and marker in command:
            found.append(int(entry.name))
    return found


def until(check, what: str) -> None:
    deadline = time.monotonic() + PATIENCE
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_background_cluster_replaces_a_dead_worker_and_stops_with_dev_down(tmp_path):
    home = tmp_path / "home"
    up = noetl("dev", "up", "--background", "--workers", "1", "--port", "0", "--home", str(home))
    assert up.returncode == 0, up.stdout + up.stderr
    try:
        url = next(line.split()[1] for line in up.stdout.splitlines() if line.startswith("server"))
        pid = int((home / "dev.pid").read_text())
        assert f"pid {pid}" in up.stdout and "dev down" in up.stdout
        [export] = [line for line in up.stdout.splitlines() if line.startswith("export ")]
        token = export.split("NOETL_API_TOKEN=", 1)[1]
        assert token not in (home / "logs" / "dev.log").read_text()
        again = noetl("dev", "up", "--background", "--home", str(home))
        assert again.returncode == 1 and "already runs" in again.stderr, again.stderr
        [worker] = children(pid, "worker start")
        os.kill(worker, signal.SIGKILL)
        log = home / "logs" / "dev.log"
        until(lambda: "worker 1 exited with code" in log.read_text(), "the dead worker's report")
        until(lambda: len(children(pid, "worker start")) == 1, "a new worker")
        assert children(pid, "worker start") != [worker]
        done = noetl("execute", str(HELLO), "--server", url, "--wait", "--json", token=token)
        assert done.returncode == 0 and json.loads(done.stdout)["status"] == "done", done.stderr
    finally:
        down = noetl("dev", "down", "--home", str(home))
    assert down.returncode == 0, down.stderr
    assert not (home / "dev.pid").exists()
    assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text()
    none = noetl("dev", "down", "--home", str(home))
    assert none.returncode == 1 and none.stderr.count("\n") == 1
    assert "no cluster is running" in none.stderr


def test_a_token_set_in_the_environment_is_used_and_not_printed(tmp_path):
    home, token = tmp_path / "home", "a-token-the-user-chose-0123456789abcdef"
    up = noetl("dev", "up", "--background", "--workers", "1", "--port", "0", "--home", str(home),
               token=token)  # fmt: skip
    assert up.returncode == 0, up.stdout + up.stderr
    try:
        assert token not in up.stdout + up.stderr and "export" not in up.stdout
        url = next(line.split()[1] for line in up.stdout.splitlines() if line.startswith("server"))
        refused = noetl("executions", "list", "--server", url)
        assert refused.returncode == 1 and "401" in refused.stderr, refused.stderr
        done = noetl("execute", str(HELLO), "--server", url, "--wait", "--json", token=token)
        assert done.returncode == 0 and json.loads(done.stdout)["status"] == "done", done.stderr
    finally:
        assert noetl("dev", "down", "--home", str(home)).returncode == 0
    logs = "".join(log.read_text() for log in (home / "logs").glob("*.log"))
    assert token not in logs
