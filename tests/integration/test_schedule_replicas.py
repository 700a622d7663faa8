"""A once-a-second schedule with two server replicas on one database, on the real clock: each
slot starts exactly one execution (the slot record decides which replica fires it)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
from test_replicas import _spawn, _until_healthy

from noetl.devservers.cluster import DevCluster
from noetl.devservers.processes import free_port

NOETL = [sys.executable, "-c", "from noetl.cli.app import main; main()"]
HELLO = Path(__file__).parents[2] / "examples" / "hello.yaml"
RUN_FOR = 6.0  # seconds the schedule is left running


def test_a_once_a_second_schedule_fires_once_per_slot_with_two_replicas(tmp_path: Path):
    cluster = DevCluster.start(tmp_path / "a", workers=1, port=0, durable=False)
    server_b = None
    try:
        url_b = f"http://127.0.0.1:{free_port()}"
        command = [*NOETL, "server", "start", "--port", url_b.rsplit(":", 1)[1]]
        command += ["--pg", cluster.postgres.dsn, "--nats", cluster.nats.url]
        server_b = _spawn([*command, "--home", str(tmp_path / "b")], tmp_path / "server-b.log")
        asyncio.run(_until_healthy(url_b))
        cli = [*NOETL, "catalog", "register", str(HELLO), "--server", cluster.server_url]
        subprocess.run(cli, check=True, capture_output=True, timeout=60)
        add = [*NOETL, "schedule", "add", "tick", "examples/hello", "--every", "1s"]
        done = subprocess.run([*add, "--server", url_b], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        time.sleep(RUN_FOR)
        pause = [*NOETL, "schedule", "pause", "tick", "--server", cluster.server_url]
        subprocess.run(pause, check=True, capture_output=True, timeout=60)
        with httpx.Client(base_url=cluster.server_url + "/api/v2", timeout=30) as api:
            slots = api.get("/schedules/tick").json()["recent_slots"]
            fired = [s for s in slots if s["status"] == "fired"]
            assert len(fired) >= RUN_FOR - 2, slots
            executions = api.get("/executions", params={"limit": 1000}).json()["executions"]
            triggers = []
            for execution in executions:
                first = api.get(
                    f"/executions/{execution['execution_id']}/events", params={"limit": 1}
                )
                triggers.append(first.json()["events"][0]["payload"]["trigger"]["slot"])
            for slot in fired:
                answer = api.get(f"/executions/{slot['execution_id']}", params={"wait": 30})
                assert answer.json()["status"] == "done", answer.json()
        assert Counter(triggers).most_common(1)[0][1] == 1  # no slot started two executions
        assert sorted(triggers) == sorted(s["slot"] for s in fired)
    finally:
        if server_b is not None:
            server_b.terminate()
            server_b.wait(30)
        cluster.stop()
