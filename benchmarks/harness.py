"""What the benchmark scripts share: generated playbooks, statistics, isolated runs, the machine,
and the command line and JSON of a benchmark of named cases.

The scripts run as `python benchmarks/NAME.py`, so this folder is on `sys.path` and they import
this module as `harness`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from collections.abc import Callable, Collection
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


def case_options(
    description: str, cases: Collection[str], runs: int = 5
) -> argparse.ArgumentParser:
    """The options of a benchmark of named `cases`: --runs, --scale, and --case (that case
    only, run in this process); add a script's own before parsing."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--runs", type=int, default=runs, help="runs per case (median reported)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies every size")
    parser.add_argument("--case", choices=sorted(cases), help="run one case in this process")
    return parser


def print_cases(
    script: str,
    benchmark: str,
    args: argparse.Namespace,
    cases: Collection[str],
    run_case: Callable[[str, int, float], dict[str, Any]],
    summary: Callable[[dict[str, dict[str, Any]]], dict[str, Any]] = lambda cases: {},
) -> None:
    """Print the JSON of `script`: with --case, that case's entry (`run_case` here); else every
    case, each in a fresh interpreter, with what ran them and the `summary` of their entries."""
    if args.case:
        print(json.dumps(run_case(args.case, args.runs, args.scale)))
        return
    measured = {name: run_isolated(script, name, args.runs, args.scale) for name in cases}
    result = {
        "benchmark": benchmark,
        "runs": args.runs,
        "scale": args.scale,
        "machine": machine(),
        "cases": measured,
        **summary(measured),
    }
    print(json.dumps(result, indent=2))
