"""Distributed mode on one machine: server + workers on real PostgreSQL and NATS JetStream.

    python benchmarks/distributed.py [--runs 5] [--scale 1.0] [--workers 2]
                                     [--cases chain,concurrent,loop,big_loop,replicas]

Starts a local cluster (`noetl dev up` machinery), then measures, as the medians of `runs`:
- `chain`: step-to-step latency of a 200-step chain of noop steps (p50, p99 of the time between
  consecutive `step.started` events, as stamped by the log);
- `concurrent`: 500 concurrent 5-step executions: wall time and aggregate step runs per second;
- `loop`: a 10,000-item parallel loop (noop task, max_in_flight 100): wall time, items/s;
- the server's resident memory after each round (growth across rounds shows leaks).
Then, once each (they are long, or need clusters of their own):
- `big_loop`: a 100,000-item parallel loop on the same cluster, with the server's resident
  memory before and after;
- `replicas`: the `concurrent` case on one server + 4 workers and on two server replicas
  (same PostgreSQL and NATS) + 4 workers, two workers per replica (both clusters up, measured
  in turn in every run), executions started on the replicas in turn (no sticky routing:
  whichever worker fetches a command claims and reports it through its own replica). `ratio`
  is the replicas' throughput over the one server's.
Prints one JSON object. `--scale` shrinks or grows every size.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from noetl.client.transport import ServerClient
from noetl.devservers.cluster import DevCluster

HEAD = "apiVersion: noetl.io/v2\nkind: Playbook\nmetadata: {name: NAME, path: bench/NAME}\n"


def chain(steps: int) -> str:
    body = [f"  - step: s{i}\n    tool: {{kind: noop}}\n    next: [s{i + 1}]" for i in range(steps)]
    body.append(f"  - step: s{steps}\n    tool: {{kind: noop}}")
    return HEAD.replace("NAME", f"chain{steps}") + "workflow:\n" + "\n".join(body) + "\n"


def loop(items: int) -> str:
    return HEAD.replace("NAME", "loop") + (
        "workflow:\n  - step: start\n"
        f"    loop: {{in: '{{{{ range({items}) | list }}}}', iterator: i,"
        " spec: {mode: parallel, max_in_flight: 100}}\n"
        "    tool: {kind: noop}\n"
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def stamp(event: dict[str, Any]) -> float:
    return datetime.fromisoformat(str(event["created_at"])).timestamp()


async def run_chain(client: ServerClient, steps: int) -> dict[str, float]:
    execution_id = await client.start(playbook=chain(steps))
    summary = await client.wait(execution_id, poll=0.05)
    assert summary["status"] == "done", summary
    started = [stamp(e) for e in await client.events(execution_id) if e["type"] == "step.started"]
    gaps = [(b - a) * 1000 for a, b in itertools.pairwise(started)]
    return {"p50_ms": percentile(gaps, 0.5), "p99_ms": percentile(gaps, 0.99)}


async def run_concurrent(
    client: ServerClient, count: int, starters: list[ServerClient] | None = None
) -> dict[str, float]:
    """`count` 5-step executions started at once (on the `starters` in turn, default
    `client`), until none runs."""
    source = chain(4)  # 5 steps
    turns = itertools.cycle(starters or [client])
    began = time.perf_counter()
    starts = [next(turns).start(playbook=source) for _ in range(count)]
    ids = set(await asyncio.gather(*starts))
    # One short listing per poll (is anything still running?), not one waiting request per
    # execution nor a page of summaries: the client must not load the server it measures.
    # Nothing else runs on the cluster meanwhile, so "none running" means all of `ids` ended.
    while await client.executions(status="running", limit=1):
        await asyncio.sleep(0.05)
    wall = time.perf_counter() - began
    newest = min(count, 1000)  # the API's page limit; the newest done executions are ours
    done = {e["execution_id"] for e in await client.executions(status="done", limit=newest)}
    assert len(ids & done) == newest, "some executions did not end done"
    return {"wall_s": wall, "step_runs_per_s": count * 5 / wall}


async def run_loop(client: ServerClient, items: int) -> dict[str, float]:
    began = time.perf_counter()
    execution_id = await client.start(playbook=loop(items))
    summary = await client.wait(execution_id, poll=0.1)
    wall = time.perf_counter() - began
    assert summary["status"] == "done", summary
    return {"wall_s": wall, "items_per_s": items / wall}


async def until_ready(cluster: DevCluster, client: ServerClient) -> None:
    """Wait until every worker says it listens (its start line), then run a few executions
    unmeasured (the workers' first fetches, the playbook caches, prepared statements)."""
    deadline = time.monotonic() + 120
    logs = [cluster.home / "logs" / f"worker-{i + 1}.log" for i in range(len(cluster.workers))]
    while not all("worker: pool" in log.read_text(errors="replace") for log in logs):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the workers did not start within 120 s; see {logs}")
        await asyncio.sleep(0.1)
    await run_concurrent(client, 4 * len(logs))


def server_rss_mb(cluster: DevCluster) -> float:
    assert cluster.server is not None
    status = Path(f"/proc/{cluster.server.pid}/status").read_text()
    line = next(x for x in status.splitlines() if x.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def median_of(rows: list[dict[str, float]]) -> dict[str, Any]:
    return {
        key: {
            "median": statistics.median(r[key] for r in rows),
            "min": min(r[key] for r in rows),
            "max": max(r[key] for r in rows),
        }
        for key in rows[0]
    }


ROUND_CASES = ("chain", "concurrent", "loop")


async def measure(cluster: DevCluster, cases: list[str], runs: int, scale: float) -> dict[str, Any]:
    """The cases of one cluster: each round's cases `runs` times, then `big_loop` once."""
    client = ServerClient(cluster.server_url)
    results: dict[str, list[dict[str, float]]] = {c: [] for c in ROUND_CASES if c in cases}
    rss: list[float] = []
    report: dict[str, Any] = {}
    try:
        await until_ready(cluster, client)
        for _ in range(runs if results else 0):
            if "chain" in results:
                results["chain"].append(await run_chain(client, max(2, int(200 * scale))))
            if "concurrent" in results:
                count = max(1, int(500 * scale))
                results["concurrent"].append(await run_concurrent(client, count))
            if "loop" in results:
                results["loop"].append(await run_loop(client, max(1, int(10_000 * scale))))
            rss.append(server_rss_mb(cluster))
        report = {name: median_of(rows) for name, rows in results.items()}
        report["server_rss_mb_per_round"] = rss
        if "big_loop" in cases:
            before = server_rss_mb(cluster)
            report["big_loop"] = await run_loop(client, max(1, int(100_000 * scale)))
            report["big_loop"]["server_rss_mb"] = [before, server_rss_mb(cluster)]
    finally:
        await client.aclose()
    return report


Clusters = dict[str, tuple[DevCluster, list[str]]]  # name -> (cluster, its servers' URLs)


async def alternate(clusters: Clusters, runs: int, scale: float) -> dict[str, Any]:
    """The `concurrent` case `runs` times on each cluster, the clusters in turn within every
    run (so a change of the machine's load hits both alike); on each, executions are started on
    its servers in turn."""
    starters = {name: [ServerClient(url) for url in urls] for name, (_, urls) in clusters.items()}
    rows: dict[str, list[dict[str, float]]] = {name: [] for name in clusters}
    try:
        for name, (cluster, _) in clusters.items():
            await until_ready(cluster, starters[name][0])
        for _ in range(runs):
            for name, clients in starters.items():
                count = max(1, int(500 * scale))
                rows[name].append(await run_concurrent(clients[0], count, clients))
    finally:
        for clients in starters.values():
            for client in clients:
                await client.aclose()
    return {name: median_of(found) for name, found in rows.items()}


def measure_replicas(runs: int, scale: float) -> dict[str, Any]:
    """One server + 4 workers and two replicas + 4 workers (two each), both clusters up at once
    and measured in turn: the same work, so replicas that contend show up as a ratio under 1."""
    with contextlib.ExitStack() as stack:
        clusters: Clusters = {}
        for name, servers in (("one_server", 1), ("two_replicas", 2)):
            home = stack.enter_context(tempfile.TemporaryDirectory())
            cluster = DevCluster.start(Path(home), workers=0, durable=False)
            stack.callback(cluster.stop)
            urls = [cluster.server_url] + [cluster.add_replica() for _ in range(servers - 1)]
            for index in range(4):
                cluster.add_worker(server_url=urls[index % servers])
            clusters[name] = (cluster, urls)
        report = asyncio.run(alternate(clusters, runs, scale))
    rates = [report[n]["step_runs_per_s"]["median"] for n in ("one_server", "two_replicas")]
    report["ratio"] = rates[1] / rates[0]
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cases", default=",".join([*ROUND_CASES, "big_loop", "replicas"]))
    args = parser.parse_args()
    cases = args.cases.split(",")
    report: dict[str, Any] = {}
    if set(cases) - {"replicas"}:
        with tempfile.TemporaryDirectory() as home:
            cluster = DevCluster.start(Path(home), workers=args.workers, durable=False)
            try:
                report = asyncio.run(measure(cluster, cases, args.runs, args.scale))
            finally:
                cluster.stop()
    if "replicas" in cases:
        report["replicas"] = measure_replicas(args.runs, args.scale)
    report["machine"] = {"cpus": os.cpu_count(), "workers": args.workers, "scale": args.scale}
    report["targets"] = {
        "chain_p50_ms_under": 5,
        "concurrent_step_runs_per_s_at_least": 500,
        "big_loop_items_per_s_at_least": 5_000,
        "replicas_ratio_at_least": 1.0,
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
