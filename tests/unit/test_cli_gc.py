"""`noetl` turns the cyclic garbage collector off while a command starts, then back on.

The collector is off during imports and startup's objects are frozen (cold start, see
`noetl.cli.app`); what a command then does must run with the collector on, or a long execution
would never free its reference cycles. The playbook's python task reports what it sees.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

GC_STATE = """\
apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: gc_state, path: tests/gc_state}
workflow:
  - step: start
    tool:
      kind: python
      code: |
        import gc
        result = {"enabled": gc.isenabled(), "frozen": gc.get_freeze_count() > 0}
"""


def test_a_run_collects_garbage_and_skips_what_startup_allocated(tmp_path: Path) -> None:
    playbook = tmp_path / "gc_state.yaml"
    playbook.write_text(GC_STATE)
    done = subprocess.run(
        [sys.executable, "-m", "noetl", "run", str(playbook), "--json", "--db", "n.db"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["result"] == {"enabled": True, "frozen": True}


def test_invoking_the_app_in_process_leaves_the_collector_alone() -> None:
    # Tests and programs that call `app` themselves keep their collector as it was.
    code = (
        "import gc, json\n"
        "from noetl.cli.app import app\n"
        "try:\n"
        "    app(['validate', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(json.dumps([gc.isenabled(), gc.get_freeze_count()]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert json.loads(done.stdout.splitlines()[-1]) == [True, 0]
