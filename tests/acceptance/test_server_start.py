"""`noetl server start` starts cleanly or says in one line why not: a database, NATS or port it
cannot use is named with its address, the exit code is non-zero and there is no traceback.
Without --nats it states that it runs the embedded queue with in-process workers, and runs."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from noetl.devservers.processes import free_port

NOETL = str(Path(sys.executable).with_name("noetl"))
HELLO = Path(__file__).parents[2] / "examples" / "hello.yaml"


def start(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOETL_")}
    command = [NOETL, "server", "start", "--home", str(home), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)


def test_start_failures_are_one_line_with_a_non_zero_exit(tmp_path):
    closed = free_port()
    with socket.create_server(("127.0.0.1", 0)) as taken:
        busy = taken.getsockname()[1]
        cases = {
            "postgres": ("--pg", f"postgresql://ada:s3cret@127.0.0.1:{closed}/noetl"),
            "nats": ("--nats", f"nats://127.0.0.1:{closed}", "--port", str(free_port())),
            "port": ("--port", str(busy)),
            "no_workers": ("--workers", "0"),
        }
        with ThreadPoolExecutor(len(cases)) as pool:
            runs = pool.map(lambda name: start(tmp_path / name, *cases[name]), cases)
            done = dict(zip(cases, runs, strict=True))
    for name, run in done.items():
        assert run.returncode != 0, (name, run.stdout, run.stderr)
        errors = [line for line in run.stderr.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1 and "Traceback" not in run.stderr, (name, run.stderr)
    assert f"127.0.0.1:{closed}" in done["postgres"].stderr
    assert "PostgreSQL" in done["postgres"].stderr and "s3cret" not in done["postgres"].stderr
    assert f"nats://127.0.0.1:{closed}" in done["nats"].stderr
    assert done["nats"].stderr.count("\n") == 1
    assert f"127.0.0.1:{busy}" in done["port"].stderr and "in use" in done["port"].stderr
    assert done["port"].stderr.count("\n") == 2  # the embedded-queue notice, then the error
    assert done["no_workers"].returncode == 2


def test_without_nats_the_server_says_so_and_runs_work_with_its_own_workers(tmp_path):
    port = free_port()
    server = subprocess.Popen(
        [NOETL, "server", "start", "--port", str(port), "--home", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stderr is not None
        notice = server.stderr.readline()
        assert "embedded queue" in notice and "4 in-process workers" in notice, notice
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/v2/health", timeout=1):
                    break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "no server"
                time.sleep(0.1)
        done = subprocess.run(
            [NOETL, "execute", str(HELLO), "--server", url, "--wait", "--json"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["result"] == "Hello, World!"
        remote = ("--server", url)
        calls = {
            "register": ("catalog", "register", str(HELLO), *remote),
            "hook": ("hook", "add", "hi", "examples/hello", *remote),
            "hooks": ("hook", "list", *remote),
            "schedules": ("schedule", "list", "--json", *remote),
            "prune": ("prune", "--older-than", "1h", "--dry-run", "--json", *remote),
            "no_hook": ("hook", "delete", "nope", *remote),
        }
        answers = {}
        for name, args in calls.items():
            answers[name] = subprocess.run(
                [NOETL, *args], capture_output=True, text=True, timeout=60
            )
        for name in ("register", "hook", "hooks", "schedules", "prune"):
            assert answers[name].returncode == 0, (name, answers[name].stderr)
        secret = answers["hook"].stdout.split("secret")[1].split()[0]
        assert secret not in answers["hooks"].stdout and '"name": "hi"' in answers["hooks"].stdout
        assert json.loads(answers["schedules"].stdout) == []
        assert json.loads(answers["prune"].stdout)["executions"] == 0  # the run is not an hour old
        assert (
            answers["no_hook"].returncode == 2 and "'nope' not found" in answers["no_hook"].stderr
        )
    finally:
        server.terminate()
        server.communicate(timeout=20)  # waits, and closes the stderr pipe
