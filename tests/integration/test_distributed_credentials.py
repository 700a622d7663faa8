"""Stored credentials in the distributed mode, on a real local cluster (PostgreSQL, NATS, server,
one worker): set with `noetl credentials set --server`, used by a worker that has no key, and
kept out of the event log, the processes' logs and the database.

Only the server has NOETL_SECRET_KEY; the worker and the CLI have the API token only.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from noetl.devservers.cluster import DevCluster
from noetl.store.credentials import generate_key

NOETL = str(Path(sys.executable).with_name("noetl"))
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "stored_credential.yaml"
TOKEN = "cluster-token-" + uuid.uuid4().hex
WORKER_TOKEN = "worker-token-" + uuid.uuid4().hex  # workers get credentials with this one
SECRET = "signing-key-" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevCluster]:
    home = tmp_path_factory.mktemp("creds-cluster")
    with pytest.MonkeyPatch.context() as env:  # what the spawned processes inherit
        env.setenv("NOETL_API_TOKEN", TOKEN)
        env.setenv("NOETL_WORKER_TOKEN", WORKER_TOKEN)
        env.setenv("NOETL_SECRET_KEY", generate_key())
        running = DevCluster.start(home, workers=0, port=0, durable=False)
        try:
            env.delenv("NOETL_SECRET_KEY")
            running.add_worker()  # a worker without the key
        except BaseException:
            running.stop()
            raise
    try:
        yield running
    finally:
        running.stop()


def noetl(*arguments: str, token: str = TOKEN) -> subprocess.CompletedProcess[str]:
    """The CLI with the API token and no other NOETL_* setting (no key, in particular)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOETL_")}
    env["NOETL_API_TOKEN"] = token
    return subprocess.run(
        [NOETL, *arguments], capture_output=True, text=True, env=env, timeout=120, check=False
    )


def execute(cluster: DevCluster) -> tuple[int, dict[str, Any]]:
    done = noetl("execute", str(EXAMPLE), "--server", cluster.server_url, "--wait", "--json")
    assert done.stdout.count("\n") == 1, done.stdout + done.stderr
    return done.returncode, json.loads(done.stdout)


def test_a_worker_uses_a_credential_set_on_the_server(cluster: DevCluster):
    server = ("--server", cluster.server_url)
    data = json.dumps({"key": SECRET})
    stored = noetl("credentials", "set", "signing", "--data", data, *server)
    assert (stored.returncode, stored.stdout) == (0, "created credential signing (generic)\n")
    listed = noetl("credentials", "list", "--json", *server)
    assert [row["name"] for row in json.loads(listed.stdout)] == ["signing"]

    code, outcome = execute(cluster)
    expected = hmac.new(SECRET.encode(), b"ship order 42", hashlib.sha256).hexdigest()
    assert (code, outcome["status"], outcome["result"]) == (0, "done", expected)

    events = noetl("events", outcome["execution_id"], "--json", *server)
    assert events.returncode == 0 and "***" in events.stdout  # the revealed value, masked
    logs = [path.read_text() for path in (cluster.home / "logs").glob("*.log")]
    with psycopg.connect(cluster.postgres.dsn) as conn:
        rows = conn.execute("SELECT sealed FROM credentials WHERE name = 'signing'").fetchall()
    assert len(rows) == 1
    for text in [stored.stdout, listed.stdout, events.stdout, *logs, bytes(rows[0][0]).hex()]:
        assert SECRET not in text and SECRET.encode().hex() not in text


def test_a_deleted_credential_fails_the_step_naming_it(cluster: DevCluster):
    server = ("--server", cluster.server_url)
    noetl("credentials", "set", "signing", "--data", json.dumps({"key": SECRET}), *server)
    deleted = noetl("credentials", "delete", "signing", *server)
    assert (deleted.returncode, deleted.stdout) == (0, "deleted credential signing\n")
    again = noetl("credentials", "delete", "signing", *server)
    assert again.returncode == 1 and "credential 'signing' not found" in again.stderr
    code, outcome = execute(cluster)
    assert (code, outcome["status"]) == (1, "failed")
    assert "credential 'signing' not found on the server" in json.dumps(outcome["error"])


def test_the_cli_needs_the_api_token(cluster: DevCluster):
    server = ("--server", cluster.server_url)
    refused = noetl("credentials", "set", "other", "--data", '{"k": "v-123"}', *server, token="x")
    assert refused.returncode == 1 and "HTTP 401" in refused.stderr
    listed = noetl("credentials", "list", "--json", *server)
    assert "other" not in [row["name"] for row in json.loads(listed.stdout)]


SECPRINT = """\
apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: secprint}
workflow:
  - step: start
    tool:
      - key: {kind: secrets, name: printed, key: key}
      - use:
          kind: python
          args: {key: "{{ _prev.value }}"}
          code: |
            import sys
            print('printing the key:', key)
            print('and to stderr:', key, file=sys.stderr)
            result = len(key)
"""


def test_what_a_task_prints_is_masked_in_the_worker_output(cluster: DevCluster, tmp_path):
    """D6: a distributed worker masks its tasks' output as `noetl run` does."""
    server = ("--server", cluster.server_url)
    noetl("credentials", "set", "printed", "--data", json.dumps({"key": SECRET}), *server)
    playbook = tmp_path / "secprint.yaml"
    playbook.write_text(SECPRINT)
    done = noetl("execute", str(playbook), *server, "--wait", "--json")
    assert json.loads(done.stdout)["result"] == len(SECRET), done.stderr
    worker_log = "".join(p.read_text() for p in (cluster.home / "logs").glob("worker-*.log"))
    assert "printing the key: ***" in worker_log and "and to stderr: ***" in worker_log
    assert SECRET not in worker_log
