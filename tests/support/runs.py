"""Executions run to their end by the installed `noetl run`, for tests that read their logs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from noetl.config import Settings

NOETL = str(Path(sys.executable).with_name("noetl"))


def run_to_end(
    home: Path, name: str, playbook: str, items: int, status: str, timeout: float = 600
) -> tuple[Settings, str]:
    """`noetl run` of `playbook` (written to HOME/NAME.yaml) with `--set n=ITEMS` into
    HOME/noetl.db; asserts it ended `status` and returns the log's settings and the id."""
    (home / f"{name}.yaml").write_text(playbook)
    db = home / "noetl.db"
    command = [NOETL, "run", str(home / f"{name}.yaml"), "--json", "--db", str(db)]
    done = subprocess.run(
        [*command, "--set", f"n={items}"], capture_output=True, text=True, timeout=timeout
    )
    outcome = json.loads(done.stdout.splitlines()[-1])
    assert outcome["status"] == status, done.stdout[-2000:] + done.stderr
    return Settings(home=home, db=db), outcome["execution_id"]
