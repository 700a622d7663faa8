"""Appends to a running execution while a prune removes 1M events (PostgreSQL).

Fills a fresh database with `--executions` finished executions of `--events` events each (1M by
default, written with one INSERT ... SELECT generate_series), then appends one step's worth of
events (3) to a running execution as fast as one writer can: first alone (baseline), then while
`PostgresRetention.prune` removes every finished execution. Prints one JSON object: prune time
and events removed per second, and append latency percentiles with and without the prune.

    .venv/bin/python benchmarks/prune.py [--executions 1000 --events 1000] [--dsn DSN]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import harness
import psycopg

from noetl.devservers.services import LocalPostgres
from noetl.engine import events as ev
from noetl.engine.events import Event
from noetl.store.postgres import PostgresEventStore
from noetl.store.postgres.retention import PostgresRetention

FILL_EXECUTIONS = """
INSERT INTO executions (execution_id, playbook_name, playbook_path, status, started_at,
                        finished_at)
SELECT 'old-' || x, 'bench', 'bench', 'done', now() - interval '40 days',
       now() - interval '40 days'
FROM generate_series(1, %(executions)s) AS x
"""
FILL_EVENTS = """
INSERT INTO events (execution_id, seq, event_id, type, step, origin, idempotency_key, payload,
                    created_at)
SELECT 'old-' || x, s, 'e-' || x || '-' || s, 'task.done', 'step', 'worker', 'k' || s,
       '{"result": {"n": 1, "text": "some result of a step"}}'::jsonb, now() - interval '40 days'
FROM generate_series(1, %(executions)s) AS x, generate_series(1, %(events)s) AS s
"""


async def append_latencies(store: PostgresEventStore, eid: str, stop: asyncio.Event) -> list[float]:
    """Seconds per append of 3 events, until `stop` is set."""
    latencies: list[float] = []
    n = 0
    while not stop.is_set():
        batch = [
            Event(ev.TASK_DONE, eid, step=f"s{n}", command_id=f"c{n}:{k}", payload={"r": n})
            for k in range(3)
        ]
        start = time.perf_counter()
        await store.append(eid, batch)
        latencies.append(time.perf_counter() - start)
        n += 1
    return latencies


def percentiles(values: list[float]) -> dict[str, float]:
    """p50, p99 and max in milliseconds."""
    if not values:
        return {"appends": 0, "p50_ms": 0.0, "p99_ms": 0.0, "max_ms": 0.0}
    ordered = sorted(values)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {
        "appends": len(values),
        "p50_ms": round(statistics.median(values) * 1000, 2),
        "p99_ms": round(pick(0.99) * 1000, 2),
        "max_ms": round(max(values) * 1000, 2),
    }


async def run(dsn: str, executions: int, events: int, baseline_s: float) -> dict[str, Any]:
    store = await PostgresEventStore.open(dsn, max_size=4)
    retention = await PostgresRetention.open(dsn, max_size=2)
    try:
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
            sizes = {"executions": executions, "events": events}
            await conn.execute(FILL_EXECUTIONS, sizes)
            await conn.execute(FILL_EVENTS, sizes)
            await conn.execute("ANALYZE")
        eid = "running"
        await store.append(
            eid, [Event(ev.PLAYBOOK_STARTED, eid, payload={"playbook": {"name": "b"}})]
        )
        stop = asyncio.Event()
        writer = asyncio.create_task(append_latencies(store, eid, stop))
        await asyncio.sleep(baseline_s)
        stop.set()
        alone = await writer
        stop = asyncio.Event()
        writer = asyncio.create_task(append_latencies(store, eid, stop))
        start = time.perf_counter()
        report = await retention.prune(finished_before="2100-01-01T00:00:00+00:00")
        took = time.perf_counter() - start
        stop.set()
        during = await writer
        return {
            "events_removed": report.events,
            "executions_removed": report.executions,
            "prune_s": round(took, 2),
            "events_removed_per_s": round(report.events / took),
            "appends_alone": percentiles(alone),
            "appends_during_prune": percentiles(during),
        }
    finally:
        await retention.close()
        await store.close()


def main() -> None:
    """Run the benchmark and print its JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executions", type=int, default=1000)
    parser.add_argument("--events", type=int, default=1000, help="events per execution")
    parser.add_argument("--baseline", type=float, default=10.0, help="seconds of appends alone")
    parser.add_argument("--dsn", help="an empty PostgreSQL database (default: start one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = None if args.dsn else LocalPostgres.start(Path(tmp) / "pg", durable=False)
        try:
            dsn = args.dsn or server.dsn  # type: ignore[union-attr]
            result = asyncio.run(run(dsn, args.executions, args.events, args.baseline))
        finally:
            if server is not None:
                server.stop()
    print(json.dumps({"benchmark": "prune_during_appends", **result, "machine": harness.machine()}))


if __name__ == "__main__":
    main()
