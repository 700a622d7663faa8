"""examples/http_to_postgres.yaml through the installed CLI, against a local API and PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import psycopg

NOETL = str(Path(sys.executable).with_name("noetl"))
EXAMPLE = Path(__file__).parents[2] / "examples" / "http_to_postgres.yaml"


def test_paginated_http_to_duckdb_to_postgres(tmp_path, http_server, pg_dsn):
    table = "noetl_items_acceptance"
    out = subprocess.run(
        [
            NOETL,
            "run",
            str(EXAMPLE),
            "--json",
            "--db",
            str(tmp_path / "n.db"),
            "--set",
            f"api={http_server.url}",
            "--set",
            f"pg={pg_dsn}",
            "--set",
            f"table={table}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    outcome = json.loads(out.stdout)
    # 3 pages of 2 items: ids 1..6
    assert outcome["status"] == "done"
    assert outcome["result"] == {"loaded": 6, "checksum": 21}
    with psycopg.connect(pg_dsn) as conn:
        names = [r[0] for r in conn.execute(f"select name from {table} order by id")]
    assert names == [f"ITEM-{i}" for i in range(1, 7)]
