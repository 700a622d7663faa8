"""What the benchmark scripts share: generated playbooks, statistics, isolated runs, the machine.

The scripts run as `python benchmarks/NAME.py`, so this folder is on `sys.path` and they import
this module as `harness`.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from noetl.dsl.load import load_playbook
from noetl.engine.definition import PlaybookDef

MAX_IN_FLIGHT = 100


def document(
    name: str, workflow: list[dict[str, Any]], workload: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A playbook document named `name` around `workflow`."""
    return {
        "apiVersion": "noetl.io/v2",
        "kind": "Playbook",
        "metadata": {"name": name, "path": f"benchmarks/{name}"},
        "workload": workload or {},
        "workflow": workflow,
    }


def chain_playbook(steps: int, tool: dict[str, Any] | None = None) -> PlaybookDef:
    """`steps` steps running `tool` (noop by default), each routing to the next."""
    task = tool or {"kind": "noop"}
    workflow: list[dict[str, Any]] = [
        {"step": f"s{i}", "tool": dict(task), "next": f"s{i + 1}"} for i in range(steps - 1)
    ]
    workflow.append({"step": f"s{steps - 1}", "tool": dict(task)})
    return load_playbook(document("bench_chain", workflow))


def loop_playbook(items: int) -> PlaybookDef:
    """One parallel loop over `range(items)` with a noop task, `max_in_flight` 100."""
    loop = {
        "in": "{{ range(workload.n) | list }}",
        "iterator": "item",
        "spec": {"mode": "parallel", "max_in_flight": MAX_IN_FLIGHT},
    }
    workflow = [{"step": "each", "loop": loop, "tool": {"kind": "noop"}}]
    return load_playbook(document("bench_loop", workflow, {"n": items}))


def scaled(size: int, scale: float) -> int:
    """`size` times `scale`, at least 2."""
    return max(2, round(size * scale))


def spread(values: list[float]) -> dict[str, float]:
    """Median, min and max, rounded to microseconds."""
    return {
        "median": round(statistics.median(values), 6),
        "min": round(min(values), 6),
        "max": round(max(values), 6),
    }


def run_isolated(script: str, name: str, runs: int, scale: float) -> dict[str, Any]:
    """Run one case of `script` in a fresh interpreter (so its peak RSS is its own) and parse
    the JSON entry it prints."""
    command = [sys.executable, str(Path(script).resolve()), "--case", name]
    command += ["--runs", str(runs), "--scale", str(scale)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"case {name} failed (exit {done.returncode}):\n{done.stderr}")
    entry: dict[str, Any] = json.loads(done.stdout)
    return entry


def machine() -> dict[str, Any]:
    """What ran the benchmark."""
    return {
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "processor": platform.machine(),
    }
