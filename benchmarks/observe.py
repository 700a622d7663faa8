"""A/B benchmark of what observing costs: the embedded runtime with and without metrics, traces.

The same 1,000-step `python` chain (the cost per step is the runtime's overhead plus a trivial
task) runs through a fresh embedded runtime, in turns: `off` (the do-nothing observer and no
tracer: what `noetl run` does), `metrics` (the server's Prometheus `Metrics` observing every
event, routing and batch) and `tracing` (every execution, step run and task attempt a span,
exported through a `BatchSpanProcessor`, as over OTLP, to an in-process exporter that drops
them), back to back in one process so that all
see the same machine. The heartbeat of the in-process workers runs in each.

Prints ONE JSON object: per variant the median, min and max of `--runs` runs (wall time, and the
process's CPU time), milliseconds per step, and the overhead of `metrics` and `tracing` over
`off` in percent: of the wall-time medians (the target's measure), of the fastest runs, and of
the CPU-time medians (the least sensitive to a machine shared with other work: time the process
waits for a CPU is not counted).

    .venv/bin/python benchmarks/observe.py [--runs 7] [--scale 1.0]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from harness import chain_playbook, machine, scaled, spread
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from noetl.config import Settings
from noetl.engine.definition import PlaybookDef
from noetl.observe import tracing
from noetl.observe.metrics import Metrics
from noetl.runtime.assemble import open_embedded

TARGETS = {"metrics_overhead_percent": 3.0, "tracing_overhead_percent": 15.0}
VARIANTS = ("off", "metrics", "tracing")


class _Dropped(SpanExporter):
    """An exporter that takes spans and keeps nothing (the cost of tracing, not of a network)."""

    def export(self, spans: Any) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def _tracer_provider() -> TracerProvider:
    """What `noetl.observe.tracing.use_otlp` installs, with the exporter that drops spans: a
    `BatchSpanProcessor` (export off the event loop, in the SDK's thread)."""
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(_Dropped()))
    return provider


async def one_run(playbook: PlaybookDef, variant: str) -> tuple[float, float]:
    """Seconds one execution of `playbook` takes on a fresh embedded runtime: wall time and the
    process's CPU time."""
    with tempfile.TemporaryDirectory(prefix="noetl-bench-") as tmp:
        runtime = await open_embedded(Settings(home=Path(tmp), db=Path(tmp) / "noetl.db"))
        if variant == "metrics":
            runtime.control.observe(Metrics())
        tracing.use(_tracer_provider() if variant == "tracing" else None)
        try:
            began, began_cpu = time.perf_counter(), time.process_time()
            summary = await runtime.run(playbook)
            took = time.perf_counter() - began, time.process_time() - began_cpu
        finally:
            await runtime.close()
            tracing.shutdown()  # stops the batch processor's thread (its work while running counts)
    if summary.status != "done":
        raise RuntimeError(f"the chain ended {summary.status}: {summary.error}")
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args()
    steps = scaled(1000, args.scale)
    playbook = chain_playbook(steps, {"kind": "python", "code": "result = 1"})
    asyncio.run(one_run(playbook, "off"))  # warm-up: imports, template caches
    times: dict[str, list[tuple[float, float]]] = {variant: [] for variant in VARIANTS}
    for round_ in range(args.runs):
        order = VARIANTS[round_ % 3 :] + VARIANTS[: round_ % 3]  # each goes first in turn
        for variant in order:
            times[variant].append(asyncio.run(one_run(playbook, variant)))
    cases: dict[str, Any] = {}
    for variant, measured in times.items():
        entry: dict[str, Any] = {
            "seconds": spread([wall for wall, _ in measured]),
            "cpu_seconds": spread([cpu for _, cpu in measured]),
            "steps": steps,
        }
        entry["ms_per_step"] = round(1000 * entry["seconds"]["median"] / steps, 4)
        cases[variant] = entry
    result: dict[str, Any] = {
        "benchmark": "observe",
        "runs": args.runs,
        "machine": machine(),
        "cases": cases,
        "targets": {},
    }
    for variant in ("metrics", "tracing"):
        name = f"{variant}_overhead_percent"
        overhead = _overhead(cases, variant, "median")
        result[name] = overhead
        result[f"{name}_of_fastest"] = _overhead(cases, variant, "min")
        result[f"{name}_of_cpu"] = _overhead(cases, variant, "median", "cpu_seconds")
        result["targets"][name] = {
            "target": TARGETS[name],
            "measured": overhead,
            "met": overhead < TARGETS[name],
        }
    print(json.dumps(result))


def _overhead(cases: dict[str, Any], variant: str, statistic: str, clock: str = "seconds") -> float:
    """How much slower `variant` is than `off`, in percent of `off`'s `statistic` of `clock`."""
    off = cases["off"][clock][statistic]
    return round(100.0 * (cases[variant][clock][statistic] - off) / off, 2)


if __name__ == "__main__":
    main()
