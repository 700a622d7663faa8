"""`noetl prune` on the local database: dry runs count, real runs remove finished executions with
their events and stored result files, and leave a running execution whole."""

from __future__ import annotations

import json
import subprocess
import time


def test_prune_dry_run_then_for_real_leaving_a_running_execution(cli):
    step = "workflow:\n  - step: start\n    tool: {kind: python, code: CODE}\n"
    big = cli.write("big", step.replace("CODE", json.dumps("result = 'x' * 100000")))
    bad = cli.write("bad", step.replace("CODE", json.dumps("raise RuntimeError('no')")))
    gate = cli.folder / "gate"
    wait = f"import os, time\nwhile not os.path.exists({str(gate)!r}): time.sleep(0.05)"
    slow = cli.write("slow", step.replace("CODE", json.dumps(wait)))
    done, failed = cli.run(big), cli.run(bad)
    assert done.code == 0 and failed.code == 1
    assert (cli.folder / "results" / done.execution_id).is_dir()
    running = subprocess.Popen(
        [cli.executable, "run", str(slow), "--json", "--db", str(cli.db)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=cli.folder,
        env=cli.env(),
    )
    time.sleep(1.5)
    db = ("--db", str(cli.db))
    dry = cli("prune", "--older-than", "1s", "--status", "failed", "--dry-run", "--json", *db)
    assert dry.returncode == 0, dry.stderr
    counts = json.loads(dry.stdout)
    assert counts["dry_run"] is True and counts["executions"] == 1 and counts["events"] > 3
    assert len(cli.executions(cli.db) or []) == 3
    real = cli("prune", "--older-than", "1s", *db)
    assert real.returncode == 0, real.stderr
    assert real.stdout.startswith("removed 2 executions:"), real.stdout
    left = cli.executions(cli.db) or []
    assert [e["status"] for e in left] == ["running"]
    assert not (cli.folder / "results" / done.execution_id).exists()
    assert cli("events", done.execution_id, "--json", *db).returncode != 0
    gate.write_text("open")
    out, _ = running.communicate(timeout=30)
    assert json.loads(out)["status"] == "done"
    events = json.loads(cli("events", json.loads(out)["execution_id"], "--json", *db).stdout)
    assert events[0]["type"] == "playbook.started" and events[-1]["type"] == "playbook.done"
    refusals = [("--older-than", "soon"), ("--older-than", "99999999999d")]
    for args in (*refusals, ("--older-than", "1d", "--status", "old")):
        refused = cli("prune", *args, *db)
        assert refused.returncode == 2 and refused.stderr.count("\n") == 1, refused.stderr
