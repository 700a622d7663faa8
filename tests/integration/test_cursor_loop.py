"""A NoETL cursor loop (`loop.cursor`), imported on load and run against real PostgreSQL.

The importer turns it into `max_in_flight` parallel drainers that run the claim query (`FOR
UPDATE SKIP LOCKED ... RETURNING`) until it returns no row, running the step's tasks once per
claimed row. Every row must be processed exactly once, whichever drainer claimed it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest

NOETL = str(Path(sys.executable).with_name("noetl"))
ROWS = 23
PLAYBOOK = """\
apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: cursor_drain, path: tests/cursor_drain}
workload: {dsn: "", table: "", drainers: 3}
workflow:
  - step: start
    next:
      spec: {mode: exclusive}
      arcs: [{step: drain}]
  - step: drain
    loop:
      cursor:
        kind: postgres
        auth: "{{ dsn }}"
        claim: |
          WITH candidate AS (
            SELECT id FROM TABLE WHERE status = 'pending'
            ORDER BY id FOR UPDATE SKIP LOCKED LIMIT {{ __frame_max_rows | default(1) | int }}
          )
          UPDATE TABLE w SET status = 'claimed', claims = claims + 1
          FROM candidate c WHERE w.id = c.id
          RETURNING w.id;
      iterator: job
      spec:
        mode: cursor
        max_in_flight: "{{ drainers }}"
        frame: {max_rows: 2, lease_seconds: 60, process: row}
    tool:
      - name: compute
        kind: python
        input: {id: "{{ job.id }}"}
        code: |
          result = {"value": id * 10}
      - name: save
        kind: postgres
        auth: "{{ dsn }}"
        command: |
          UPDATE TABLE SET status = 'done', value = {{ compute.value }}, runs = runs + 1
          WHERE id = {{ job.id }};
    next:
      spec: {mode: exclusive}
      arcs: [{step: end}]
  - step: end
"""


@pytest.fixture
def work_table(pg_dsn: str) -> str:
    table = f"cursor_work_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(
            f"CREATE TABLE {table} (id int PRIMARY KEY, status text NOT NULL DEFAULT 'pending',"
            " claims int NOT NULL DEFAULT 0, runs int NOT NULL DEFAULT 0, value int)"
        )
        conn.execute(f"INSERT INTO {table} (id) SELECT generate_series(1, {ROWS})")
    return table


def test_a_cursor_loop_processes_every_claimed_row_once(
    tmp_path: Path, pg_dsn: str, work_table: str
) -> None:
    done = _run_drain(tmp_path, work_table, {"dsn": pg_dsn, "table": work_table})
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout.splitlines()[-1])["status"] == "done"
    with psycopg.connect(pg_dsn) as conn:
        rows = conn.execute(f"SELECT id, status, claims, runs, value FROM {work_table}").fetchall()
    assert sorted(rows) == [(i, "done", 1, 1, i * 10) for i in range(1, ROWS + 1)]


def test_a_cursor_loop_with_a_bad_width_fails_naming_the_field(
    tmp_path: Path, pg_dsn: str, work_table: str
) -> None:
    done = _run_drain(tmp_path, work_table, {"dsn": pg_dsn, "drainers": "many"})
    assert done.returncode == 1
    error = json.loads(done.stdout.splitlines()[-1])["error"]
    assert "step 'drain' loop.spec.max_in_flight must render to a whole number" in error["message"]
    with psycopg.connect(pg_dsn) as conn:
        (claimed,) = conn.execute(f"SELECT count(*) FROM {work_table} WHERE claims > 0").fetchone()
    assert claimed == 0


def _run_drain(
    tmp_path: Path, work_table: str, payload: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """`noetl run --json` of the drain playbook over `work_table` with `payload`."""
    playbook = tmp_path / "cursor_drain.yaml"
    playbook.write_text(PLAYBOOK.replace("TABLE", work_table))
    command = [NOETL, "run", str(playbook), "--json", "--payload", json.dumps(payload)]
    command += ["--db", str(tmp_path / "n.db")]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)
