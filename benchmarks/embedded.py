"""Benchmark of the embedded runtime: whole executions through store, bus, control plane, workers.

Every run opens a fresh embedded NoETL (`open_embedded`, SQLite file in a temporary folder, the
default worker count) and times `Runtime.run` from start to the execution's end. Cases:

- `chain_noop_1k`: 1,000 steps, each one `noop` task routing to the next;
- `chain_python_1k`: the same with a trivial `python` task per step (`result = 1`);
- `loop_1k`, `loop_10k`: one parallel loop of 1,000 / 10,000 `noop` iterations,
  `max_in_flight` 100;
- `concurrent_100x3`: 100 executions of a 3-step `noop` chain started together;
- `cli_hello`: `noetl run examples/hello.yaml --json` from the shell (the installed console
  script in a subprocess; wall time includes interpreter start and imports).

Prints ONE JSON object: per case the median, min and max of `--runs` runs, steps (or iterations)
per second, milliseconds per step (for noop steps that is all overhead), the CPU milliseconds
per step of the process (`cpu_ms_per_step`: on a machine shared with other work the wall time
swings with their load, the CPU time much less), and the peak RSS of the process that ran the
case (each case runs in a fresh subprocess).

    .venv/bin/python benchmarks/embedded.py [--runs 5] [--scale 1.0]
"""

from __future__ import annotations

import asyncio
import compileall
import json
import py_compile
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from harness import case_options, chain_playbook, loop_playbook, print_cases, scaled, spread

import noetl as noetl_package
from noetl.config import Settings
from noetl.engine.definition import PlaybookDef
from noetl.runtime.assemble import open_embedded
from noetl.runtime.assembled import Runtime

REPO = Path(__file__).resolve().parents[1]
HELLO = REPO / "examples" / "hello.yaml"
TARGETS = {  # issue 17 (at most; issue 4's were 1 ms per noop step and 5 s for 10k items)
    "ms_per_step_chain": 0.25,  # per step of the python chain
    "loop_1k_seconds": 0.15,
    "loop_10k_seconds": 5.0,
    "peak_rss_mb": 150.0,
    "cli_hello_seconds": 0.25,
}

# -- one run ----------------------------------------------------------------------------------

Body = Callable[[Runtime], Awaitable[None]]


async def timed_run(body: Body) -> tuple[float, float, float]:
    """(seconds to open a fresh embedded runtime, seconds `body` takes on it, CPU seconds of
    this process meanwhile: all its threads, and much less moved by other processes' load on a
    shared machine than the wall time)."""
    with tempfile.TemporaryDirectory(prefix="noetl-bench-") as tmp:
        began = time.perf_counter()
        runtime = await open_embedded(Settings(home=Path(tmp), db=Path(tmp) / "noetl.db"))
        opened, cpu = time.perf_counter(), time.process_time()
        try:
            await body(runtime)
            finished, used = time.perf_counter(), time.process_time() - cpu
        finally:
            await runtime.close()
    return opened - began, finished - opened, used


def executions(playbook: PlaybookDef, count: int) -> Body:
    """A body that runs `count` executions of `playbook` at once and checks they all end done."""

    async def body(runtime: Runtime) -> None:
        summaries = await asyncio.gather(*(runtime.run(playbook) for _ in range(count)))
        for summary in summaries:
            if summary.status != "done":
                raise RuntimeError(f"{playbook.name} ended {summary.status}: {summary.error}")

    return body


# -- cases ------------------------------------------------------------------------------------

Timed = tuple[float, float, float]  # (open seconds, wall seconds, CPU seconds)
Case = Callable[[float], tuple[Callable[[], Timed], int, str]]


def runtime_case(make: Callable[[float], tuple[PlaybookDef, int, int, str]]) -> Case:
    """A case that runs executions through the embedded runtime (`make` gives playbook, count of
    concurrent executions, units of work per execution, unit name)."""

    def build(scale: float) -> tuple[Callable[[], Timed], int, str]:
        playbook, count, per_execution, unit = make(scale)
        body = executions(playbook, count)
        return lambda: asyncio.run(timed_run(body)), count * per_execution, unit

    return build


def _chain(tool: dict[str, Any]) -> Callable[[float], tuple[PlaybookDef, int, int, str]]:
    def make(scale: float) -> tuple[PlaybookDef, int, int, str]:
        steps = scaled(1000, scale)
        return chain_playbook(steps, tool), 1, steps, "steps"

    return make


def _loop(size: int) -> Callable[[float], tuple[PlaybookDef, int, int, str]]:
    def make(scale: float) -> tuple[PlaybookDef, int, int, str]:
        items = scaled(size, scale)
        return loop_playbook(items), 1, items, "iterations"

    return make


def _concurrent(scale: float) -> tuple[PlaybookDef, int, int, str]:
    return chain_playbook(3, {"kind": "noop"}), scaled(100, scale), 3, "steps"


def case_cli(scale: float) -> tuple[Callable[[], Timed], int, str]:
    """`noetl run examples/hello.yaml --json` in a subprocess, with a fresh database each run.

    The package's bytecode is compiled first, as an installed wheel has it (a shell with
    PYTHONDONTWRITEBYTECODE would otherwise recompile every module on every run). Hash-checked
    .pyc files never go stale, so editing the source meanwhile is safe.
    """
    noetl = Path(sys.executable).with_name("noetl")
    compileall.compile_dir(
        Path(noetl_package.__file__).parent,
        quiet=1,
        invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH,
    )

    def once() -> Timed:
        with tempfile.TemporaryDirectory(prefix="noetl-bench-") as tmp:
            command = [str(noetl), "run", str(HELLO), "--json", "--db", str(Path(tmp) / "n.db")]
            began = time.perf_counter()
            done = subprocess.run(command, capture_output=True, text=True, cwd=tmp, check=False)
            seconds = time.perf_counter() - began
        if done.returncode != 0 or json.loads(done.stdout)["status"] != "done":
            raise RuntimeError(f"noetl run failed (exit {done.returncode}): {done.stderr}")
        return 0.0, seconds, 0.0

    return once, 1, "executions"


CASES: dict[str, Case] = {
    "chain_noop_1k": runtime_case(_chain({"kind": "noop"})),
    "chain_python_1k": runtime_case(_chain({"kind": "python", "code": "result = 1"})),
    "loop_1k": runtime_case(_loop(1000)),
    "loop_10k": runtime_case(_loop(10_000)),
    "concurrent_100x3": runtime_case(_concurrent),
    "cli_hello": case_cli,
}


# -- measuring --------------------------------------------------------------------------------


def run_case(name: str, runs: int, scale: float) -> dict[str, Any]:
    """Run one case `runs` times in this process; its JSON entry."""
    once, work, unit = CASES[name](scale)
    results = [once() for _ in range(runs)]
    wall = [seconds for _, seconds, _ in results]
    median = statistics.median(wall)
    if name == "cli_hello":  # one small playbook: only the wall time from the shell matters
        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        return {"wall_seconds": spread(wall), "peak_rss_mb": round(rss / 1024, 1)}
    return {
        unit: work,
        "wall_seconds": spread(wall),
        f"{unit}_per_s": round(work / median, 1),
        f"ms_per_{unit.rstrip('s')}": round(median / work * 1000, 4),
        f"cpu_ms_per_{unit.rstrip('s')}": round(
            statistics.median(c for *_, c in results) / work * 1000, 4
        ),
        "open_seconds": spread([opened for opened, *_ in results]),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def targets(cases: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each target of issue 17 with the measured value and whether it is met."""
    measured = {
        "ms_per_step_chain": cases["chain_python_1k"]["ms_per_step"],
        "loop_1k_seconds": cases["loop_1k"]["wall_seconds"]["median"],
        "loop_10k_seconds": cases["loop_10k"]["wall_seconds"]["median"],
        "peak_rss_mb": max(c["peak_rss_mb"] for c in cases.values()),
        "cli_hello_seconds": cases["cli_hello"]["wall_seconds"]["median"],
    }
    return {
        key: {"at_most": limit, "measured": measured[key], "met": measured[key] <= limit}
        for key, limit in TARGETS.items()
    }


def main() -> None:
    """Run every case (or one, with --case) and print the JSON."""
    args = case_options(__doc__.splitlines()[0], CASES).parse_args()
    print_cases(__file__, "embedded", args, CASES, run_case, lambda c: {"targets": targets(c)})


if __name__ == "__main__":
    main()
