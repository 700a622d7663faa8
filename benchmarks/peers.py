"""NoETL side by side with Dagster and Prefect: the same shapes, one run, ratios.

The peers are installed in a throwaway virtual environment outside the project's dependencies
(`--peers-venv`, created with `pip install dagster prefect` when missing), and every case runs
in a fresh interpreter of its own, so its peak RSS is its own and no import is shared:

- `chain`: a chain of `--chain` python steps, each adding one to the previous result;
- `fanout`: one step fanned out over 1,000 items, each squared, then summed;
- `flows`: 50 runs of a 3-step flow, one after the other, in one process;
- `cold`: a whole one-step run from the shell (interpreter start, imports, run, exit).

NoETL runs embedded (SQLite file in a temporary folder, in-process workers), Dagster with its
in-process executor (`execute_in_process`, an ephemeral instance), Prefect 3 with its default
local settings and a temporary `PREFECT_HOME`. The output is one JSON object: per engine and
case the median wall time and peak RSS, and per peer the ratio of its median to NoETL's.

    python benchmarks/peers.py [--runs 3] [--chain 100] [--peers-venv /tmp/noetl-peers]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import harness

# Each case body defines `run_once()`; the shared tail times it and prints one JSON line.
_TAIL = """
import json, resource, sys, time
runs = int(sys.argv[1])
seconds = []
for _ in range(runs):
    began = time.perf_counter()
    run_once()
    seconds.append(time.perf_counter() - began)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "peak_rss_mb": round(peak, 1)}))
"""

_NOETL_HEAD = """
import asyncio, tempfile
from pathlib import Path
from noetl.config import Settings
from noetl.dsl.load import load_playbook
from noetl.runtime.assemble import open_embedded

def doc(workflow, workload=None):
    return {"apiVersion": "noetl.io/v2", "kind": "Playbook",
            "metadata": {"name": "peer", "path": "bench/peer"},
            "workload": workload or {}, "workflow": workflow}

def chain_doc(n):
    wf = [{"step": "s0", "tool": {"kind": "python", "code": "result = 0"}, "next": "s1"}]
    for i in range(1, n):
        step = {"step": f"s{i}", "tool": {"kind": "python",
                "args": {"x": "{{ s%d }}" % (i - 1)}, "code": "result = x + 1"}}
        if i < n - 1:
            step["next"] = f"s{i + 1}"
        wf.append(step)
    return doc(wf)

async def in_runtime(playbook, times):
    with tempfile.TemporaryDirectory() as tmp:
        runtime = await open_embedded(Settings(home=Path(tmp), db=Path(tmp) / "noetl.db"))
        try:
            for _ in range(times):
                summary = await runtime.run(playbook)
                assert summary.status == "done", summary
        finally:
            await runtime.close()
"""

_NOETL = {
    "chain": """
playbook = load_playbook(chain_doc(N))
def run_once():
    asyncio.run(in_runtime(playbook, 1))
""",
    "fanout": """
loop = {"in": "{{ range(1000) | list }}", "iterator": "n",
        "spec": {"mode": "parallel", "max_in_flight": 100}}
playbook = load_playbook(doc([
    {"step": "square", "loop": loop,
     "tool": {"kind": "python", "args": {"n": "{{ iter.n }}"}, "code": "result = n * n"},
     "next": [{"step": "total", "args": {"xs": "{{ square.results }}"}}]},
    {"step": "total", "tool": {"kind": "python", "args": {"xs": "{{ args.xs }}"},
     "code": "result = sum(xs)"}}]))
def run_once():
    asyncio.run(in_runtime(playbook, 1))
""",
    "flows": """
playbook = load_playbook(chain_doc(3))
def run_once():
    asyncio.run(in_runtime(playbook, 50))
""",
}

_DAGSTER = {
    "chain": """
from dagster import job, op, in_process_executor
@op
def first():
    return 0
@op
def step(x):
    return x + 1
@job(executor_def=in_process_executor)
def chain():
    value = first()
    for i in range(N - 1):
        value = step.alias(f"s{i}")(value)
def run_once():
    assert chain.execute_in_process().success
""",
    "fanout": """
from dagster import DynamicOut, DynamicOutput, job, op, in_process_executor
@op(out=DynamicOut())
def items():
    for i in range(1000):
        yield DynamicOutput(i, mapping_key=str(i))
@op
def square(n):
    return n * n
@op
def total(xs):
    return sum(xs)
@job(executor_def=in_process_executor)
def fan():
    total(items().map(square).collect())
def run_once():
    assert fan.execute_in_process().success
""",
    "flows": """
from dagster import job, op, in_process_executor
@op
def first():
    return 0
@op
def step(x):
    return x + 1
@job(executor_def=in_process_executor)
def three():
    step.alias("s2")(step.alias("s1")(first()))
def run_once():
    for _ in range(50):
        assert three.execute_in_process().success
""",
}

_PREFECT = {
    "chain": """
from prefect import flow, task
@task
def step(x):
    return x + 1
@flow
def chain():
    value = 0
    for _ in range(N - 1):
        value = step(value)
    return value
def run_once():
    assert chain() == N - 1
""",
    "fanout": """
from prefect import flow, task
@task
def square(n):
    return n * n
@flow
def fan():
    return sum(square.map(range(1000)).result())
def run_once():
    assert fan() == sum(n * n for n in range(1000))
""",
    "flows": """
from prefect import flow, task
@task
def step(x):
    return x + 1
@flow
def three():
    return step(step(step(0)))
def run_once():
    for _ in range(50):
        assert three() == 3
""",
}

_COLD = {
    "noetl": (
        "from noetl.cli.app import main\nsys.argv = ['noetl', 'run', PLAYBOOK, '--json']\nmain()"
    ),
    "dagster": (
        "from dagster import job, op\n@op\ndef one():\n    return 1\n"
        "@job\ndef j():\n    one()\nassert j.execute_in_process().success"
    ),
    "prefect": ("from prefect import flow\n@flow\ndef one():\n    return 1\nassert one() == 1"),
}


def peers_python(venv: Path) -> Path:
    """The peers' interpreter, installing Dagster and Prefect into `venv` when missing."""
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(python), "-m", "pip", "install", "-q", "dagster", "prefect"]
        subprocess.run(pip, check=True)
    return python


def run_case(python: Path, source: str, runs: int, env: dict[str, str]) -> dict[str, Any]:
    """Run one case body in a fresh `python`; its medians and peak RSS.

    The script goes in a folder of its own: Python puts the script's folder first on
    `sys.path`, and any `timeit.py` or `yaml.py` left in the shared /tmp would shadow the
    module of that name for the engine under test."""
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "case.py"
        script.write_text(source + _TAIL)
        done = subprocess.run(
            [str(python), str(script), str(runs)],
            capture_output=True,
            text=True,
            env=env,
            check=False,
            timeout=1800,
        )
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1:] or [f"exit {done.returncode}"]}
    entry = json.loads(done.stdout.strip().splitlines()[-1])
    return {"median_s": round(statistics.median(entry["seconds"]), 4), **entry}


def cold_start(python: Path, code: str, runs: int, env: dict[str, str]) -> dict[str, Any]:
    """Wall time of a whole one-step run from the shell, median of `runs`."""
    seconds = []
    for _ in range(runs):
        began = time.perf_counter()
        done = subprocess.run(
            [str(python), "-c", "import sys\n" + code],
            capture_output=True,
            text=True,
            env=env,
            check=False,
            timeout=600,
        )
        seconds.append(time.perf_counter() - began)
        if done.returncode != 0:
            return {"error": done.stderr.strip().splitlines()[-1:]}
    return {"median_s": round(statistics.median(seconds), 4), "seconds": seconds}


def main() -> None:
    """Run every case on every engine and print one JSON object."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--chain", type=int, default=100, help="steps of the chain case")
    parser.add_argument("--peers-venv", type=Path, default=Path("/tmp/noetl-peers"))
    parser.add_argument("--only", choices=["noetl", "dagster", "prefect"], action="append")
    options = parser.parse_args()
    engines = options.only or ["noetl", "dagster", "prefect"]
    pythons = {"noetl": Path(sys.executable)}
    if set(engines) - {"noetl"}:
        peer = peers_python(options.peers_venv)
        pythons.update(dagster=peer, prefect=peer)
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "PREFECT_HOME": home, "DAGSTER_HOME": home}
        env["PREFECT_LOGGING_LEVEL"] = "WARNING"
        # Prefect starts a local API server per process; on a busy machine its default 20 s
        # start-up timeout fails the run instead of measuring it.
        env["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "180"
        playbook = Path(home) / "one.yaml"
        playbook.write_text(
            "apiVersion: noetl.io/v2\nkind: Playbook\nmetadata: {name: one, path: one}\n"
            "workflow:\n  - step: start\n    tool: {kind: python, code: 'result = 1'}\n"
        )
        bodies = {"noetl": _NOETL, "dagster": _DAGSTER, "prefect": _PREFECT}
        results: dict[str, dict[str, Any]] = {}
        for engine in engines:
            head = (_NOETL_HEAD if engine == "noetl" else "") + f"\nN = {options.chain}\n"
            results[engine] = {
                name: run_case(pythons[engine], head + textwrap.dedent(body), options.runs, env)
                for name, body in bodies[engine].items()
            }
            cold = _COLD[engine].replace("PLAYBOOK", repr(str(playbook)))
            results[engine]["cold"] = cold_start(pythons[engine], cold, options.runs, env)
    print(
        json.dumps(
            {
                "machine": harness.machine(),
                "chain_steps": options.chain,
                "results": results,
                "ratios": ratios(results),
            },
            indent=2,
        )
    )


def ratios(results: dict[str, dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Each peer's median over NoETL's, per case (how many times slower the peer is)."""
    base = results.get("noetl", {})
    out: dict[str, dict[str, float]] = {}
    for engine, cases in results.items():
        if engine == "noetl":
            continue
        out[engine] = {
            name: round(case["median_s"] / base[name]["median_s"], 1)
            for name, case in cases.items()
            if "median_s" in case and "median_s" in base.get(name, {})
        }
    return out


if __name__ == "__main__":
    main()
