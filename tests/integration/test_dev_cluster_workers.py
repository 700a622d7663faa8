"""A worker of a local cluster that dies is replaced as it was started (`noetl dev up` and the
benchmarks): the same server (a replica's, when it talked to one), pool, name and log file."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from noetl.client.transport import ServerClient
from noetl.devservers.cluster import DevCluster
from support.waiting import wait_for

SPREAD = """\
apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: spread}
executor: {kind: auto, spec: {pool: spread}}
workflow:
  - step: start
    tool: {kind: python, code: "result = 'ran in pool spread'"}
"""


def _workers(url: str) -> dict[str, dict[str, Any]]:
    """`noetl workers list --server URL --json`, by worker id."""
    command = [sys.executable, "-m", "noetl", "workers", "list", "--server", url, "--json"]
    answer = subprocess.run(command, capture_output=True, text=True, check=True, timeout=60)
    return {w["worker_id"]: w for w in json.loads(answer.stdout)["workers"]}


def _command_line(process: subprocess.Popen[bytes]) -> list[str]:
    """The arguments the process runs with, as the system has them."""
    return Path(f"/proc/{process.pid}/cmdline").read_bytes().decode().split("\0")


def _run_in_pool(url: str) -> dict[str, Any]:
    async def go() -> dict[str, Any]:
        client = ServerClient(url)
        try:
            return await client.wait(await client.start(playbook=SPREAD))
        finally:
            await client.aclose()

    return asyncio.run(asyncio.wait_for(go(), 60))


def test_a_dead_worker_is_replaced_as_it_was_started(tmp_path: Path):
    cluster = DevCluster.start(tmp_path, workers=0, durable=False, heartbeat=1)
    try:
        replica = cluster.add_replica()
        cluster.add_worker()
        cluster.add_worker(worker_id="spread", pool="spread", server_url=replica)
        first = wait_for(lambda: len(w := _workers(replica)) == 2 and w, "two workers", 40, 0.2)
        for worker in cluster.workers:
            worker.send_signal(signal.SIGKILL)
            worker.wait(10)
        replaced = cluster.replace_dead_workers()
        assert replaced == [(0, -signal.SIGKILL), (1, -signal.SIGKILL)]
        default, spread = (_command_line(w) for w in cluster.workers)
        assert default[default.index("--server") + 1] == cluster.server_url
        assert default[default.index("--worker-id") + 1] == "worker-1"
        assert spread[spread.index("--server") + 1] == replica
        assert spread[spread.index("--pool") + 1] == "spread"
        assert spread[spread.index("--worker-id") + 1] == "spread"
        assert [cluster.worker_log(i) for i in (0, 1)] == ["worker-1.log", "spread.log"]

        def restarted() -> dict[str, dict[str, Any]] | None:
            now = _workers(replica)
            again = [
                now.get(name, {}).get("started_at", "") > first[name]["started_at"]
                for name in ("worker-1", "spread")
            ]
            return now if all(again) else None

        now = wait_for(restarted, "the replacements to register", 40, 0.2)
        assert (now["spread"]["pool"], now["spread"]["status"]) == ("spread", "alive")
        summary = _run_in_pool(replica)
        assert (summary["status"], summary["result"]) == ("done", "ran in pool spread")
        log = (cluster.home / "logs" / "spread.log").read_text(errors="replace")
        started = f"worker: pool 'spread' x 16, server {replica}, id spread"
        assert log.count(started) == 2, log[-2000:]  # both starts, in one file
    finally:
        cluster.stop()
