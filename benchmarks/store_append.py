"""Micro-benchmark of the SQLite event store's append path.

Prints one JSON object: for batches of 1 and 5 events, the median over 5 runs of appends per
second (and the same as events per second and microseconds per append). Each run appends to a
fresh database file in a temporary folder, one execution, like the embedded runtime does.

    .venv/bin/python benchmarks/store_append.py [--appends N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

from noetl.engine import events as ev
from noetl.engine.events import Event
from noetl.store.sqlite import SqliteEventStore

RUNS = 5


async def one_run(folder: Path, appends: int, batch: int) -> tuple[float, float]:
    """Wall and CPU seconds per append, for `appends` calls of `batch` events each."""
    store = SqliteEventStore.open(folder / f"bench-{batch}-{time.monotonic_ns()}.db")
    eid = "1"
    await store.append(eid, [Event(ev.PLAYBOOK_STARTED, eid, payload={"playbook": {"name": "b"}})])
    batches = [
        [
            Event(ev.TASK_DONE, eid, step=f"s{n}", command_id=f"c{n}:{k}", payload={"result": n})
            for k in range(batch)
        ]
        for n in range(appends)
    ]
    start, cpu_start = time.perf_counter(), time.process_time()
    for events in batches:
        await store.append(eid, events)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    await store.close()
    return wall / appends, cpu / appends


def measure(appends: int, batch: int) -> dict[str, float]:
    """Median of RUNS runs for one batch size."""
    with tempfile.TemporaryDirectory() as tmp:
        runs = [asyncio.run(one_run(Path(tmp), appends, batch)) for _ in range(RUNS)]
    wall = statistics.median(w for w, _ in runs)
    cpu = statistics.median(c for _, c in runs)
    return {
        "appends_per_s": round(1 / wall),
        "events_per_s": round(batch / wall),
        "us_per_append": round(wall * 1e6, 1),
        "cpu_us_per_append": round(cpu * 1e6, 1),  # the rest of the wall time is waiting on I/O
    }


def main() -> None:
    """Run the benchmark and print its JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--appends", type=int, default=2000, help="append calls per run")
    args = parser.parse_args()
    result = {
        "benchmark": "sqlite_event_store_append",
        "runs": RUNS,
        "appends_per_run": args.appends,
        "batch_1": measure(args.appends, 1),
        "batch_5": measure(args.appends, 5),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
