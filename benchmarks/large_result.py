"""How long a large result takes to flow between two steps (stored once, passed by reference).

    python benchmarks/large_result.py [--mb 50] [--runs 5]

Prints one JSON object: median/min/max wall seconds of a two-step playbook whose first step
returns an `--mb` MB string and whose second step reads it, plus the size of the event log.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

from noetl.config import Settings
from noetl.dsl.load import load_playbook
from noetl.runtime.assemble import open_embedded

PLAYBOOK = """
apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: large_result, path: benchmarks/large_result}
workload: {mb: 50}
workflow:
  - step: start
    tool:
      kind: python
      args: {mb: "{{ workload.mb }}"}
      code: "result = 'x' * (mb * 1024 * 1024)"
    next: [{step: measure}]
  - step: measure
    tool: {kind: python, args: {data: "{{ start }}"}, code: "result = len(data)"}
"""


async def one_run(folder: Path, mb: int) -> tuple[float, int]:
    runtime = await open_embedded(Settings.load(env={}, db=folder / "noetl.db"))
    try:
        playbook = load_playbook(PLAYBOOK)
        began = time.perf_counter()
        summary = await runtime.run(playbook, {"mb": mb}, source=PLAYBOOK)
        elapsed = time.perf_counter() - began
        assert summary.status == "done" and summary.result == mb * 1024 * 1024
        log = await runtime.store.read(summary.execution_id)
        return elapsed, sum(len(e.to_json()) for e in log)
    finally:
        await runtime.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mb", type=int, default=50)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    times, sizes = [], []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as folder:
            elapsed, size = asyncio.run(one_run(Path(folder), args.mb))
        times.append(elapsed)
        sizes.append(size)
    report = {
        "benchmark": "large_result",
        "mb": args.mb,
        "runs": args.runs,
        "wall_s": {"median": statistics.median(times), "min": min(times), "max": max(times)},
        "event_log_bytes": max(sizes),
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
