"""Benchmark of long executions through the embedded runtime: does the cost per step stay flat?

Cases (each in a fresh subprocess, so its peak RSS is its own):

- `chain_10k`: a 10,000-step chain of `python` tasks, each reading the previous step's result
  (`args: {x: "{{ s<i-1> }}"}`, `result = x + 1`). Per window of 100 steps starting at step
  100, 1,000 and 9,900: milliseconds per step, wall and process CPU (from the `step.done`
  events as the control plane writes them), and the bytes of the scope a command hands to its
  worker at the window's start (the JSON the distributed claim sends; measured by wrapping
  `runtime.live.command_scope`).
- `loop_100k`: one parallel loop of 100,000 `noop` items (`max_in_flight` 100): wall time,
  milliseconds per item in the first and the last tenth of the items, peak RSS.
- `resume_1m`: an execution with 1,000,000 events in a SQLite log (parallel loops, written
  through the event store in batches of 5,000, left running), then in a fresh runtime: the
  time and peak RSS of resuming it (what `noetl run --resume` does), and the time to read one
  page of 100 events of its event list at the start, the middle and the end of the log, and
  of `noetl results` of its first loop and of a step without a result (`step_result_ms`).

    .venv/bin/python benchmarks/long_executions.py [--runs 1] [--scale 1.0] [--case NAME]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from harness import (
    MAX_IN_FLIGHT,
    case_options,
    document,
    loop_playbook,
    print_cases,
    scaled,
    spread,
)

import noetl.runtime.live as live_module
from noetl.config import Settings
from noetl.dsl.load import load_playbook
from noetl.engine import events as ev
from noetl.engine.decide import decide, start
from noetl.engine.definition import PlaybookDef
from noetl.engine.events import Event
from noetl.errors import NotFoundError
from noetl.runtime.assemble import open_embedded
from noetl.runtime.step_results import step_result
from noetl.store.results import FileResultStore, ResultStore
from noetl.store.sqlite.store import SqliteEventStore

WINDOW = 100  # steps per timing window of the chain
PAGE = 100  # events per page of the event list
EXECUTION_ID = "resume-bench"

# -- chain_10k --------------------------------------------------------------------------------


def reading_chain(steps: int) -> PlaybookDef:
    """`steps` python steps, each adding one to the previous step's result."""
    workflow: list[dict[str, Any]] = []
    for i in range(steps):
        x = f"{{{{ s{i - 1} }}}}" if i else 0
        step: dict[str, Any] = {
            "step": f"s{i}",
            "tool": {"kind": "python", "code": "result = x + 1", "args": {"x": x}},
        }
        if i + 1 < steps:
            step["next"] = f"s{i + 1}"
        workflow.append(step)
    return load_playbook(document("bench_long_chain", workflow))


def window_starts(steps: int) -> list[int]:
    """Steps where a timing window starts (100, 1,000, 9,900 at 10,000 steps; scaled)."""
    starts = sorted({max(1, steps // 100), max(1, steps // 10), max(1, steps - WINDOW)})
    return [s for s in starts if s + 1 < steps]


class ScopeSizes:
    """Wraps `command_scope` where the control plane calls it: the bytes of the scope handed
    with the commands of `steps` (only those are encoded, so measuring adds no cost that
    grows with the chain)."""

    def __init__(self, steps: set[str]) -> None:
        self.steps = steps
        self.bytes: dict[str, int] = {}
        self._original = live_module.command_scope

    def __enter__(self) -> ScopeSizes:
        def measured(*args: Any) -> dict[str, Any]:
            scope: dict[str, Any] = self._original(*args)
            step = args[-1].step
            if step in self.steps:
                self.bytes[step] = len(json.dumps(scope, separators=(",", ":"), default=str))
            return scope

        live_module.command_scope = measured  # type: ignore[assignment]
        return self

    def __exit__(self, *_: object) -> None:
        live_module.command_scope = self._original  # type: ignore[assignment]


async def chain_once(playbook: PlaybookDef, steps: int) -> dict[str, Any]:
    """One run of the reading chain: wall time, ms per step and scope bytes per window."""
    done_at: dict[str, tuple[float, float]] = {}  # step -> (wall clock, process CPU clock)

    def listen(event: Event) -> None:
        if event.type == ev.STEP_DONE and event.step is not None:
            done_at[event.step] = (time.perf_counter(), time.process_time())

    with tempfile.TemporaryDirectory(prefix="noetl-bench-") as tmp:
        runtime = await open_embedded(Settings(home=Path(tmp), db=Path(tmp) / "noetl.db"))
        runtime.control.listen(listen)
        try:
            with ScopeSizes({f"s{first}" for first in window_starts(steps)}) as sizes:
                began = time.perf_counter()
                summary = await runtime.run(playbook)
                wall = time.perf_counter() - began
        finally:
            await runtime.close()
    if summary.status != "done" or summary.result != steps:
        raise RuntimeError(f"chain ended {summary.status} with {summary.result!r}")
    windows = {}
    for first in window_starts(steps):
        (wall_end, cpu_end), (wall_start, cpu_start) = (
            done_at[f"s{first + WINDOW - 1}"],
            done_at[f"s{first - 1}"],
        )
        windows[str(first)] = {
            "ms_per_step": round((wall_end - wall_start) / WINDOW * 1000, 4),
            "cpu_ms_per_step": round((cpu_end - cpu_start) / WINDOW * 1000, 4),
            "command_scope_bytes": sizes.bytes[f"s{first}"],
        }
    return {"wall": wall, "windows": windows}


def case_chain(runs: int, scale: float) -> dict[str, Any]:
    """The 10,000-step reading chain."""
    steps = max(scaled(10_000, scale), 3 * WINDOW)
    playbook = reading_chain(steps)
    results = [asyncio.run(chain_once(playbook, steps)) for _ in range(runs)]
    windows: dict[str, Any] = {}
    for first in results[0]["windows"]:
        per_step = [r["windows"][first]["ms_per_step"] for r in results]
        cpu = [r["windows"][first]["cpu_ms_per_step"] for r in results]
        windows[first] = {
            "ms_per_step": round(statistics.median(per_step), 4),
            "cpu_ms_per_step": round(statistics.median(cpu), 4),
            "command_scope_bytes": results[0]["windows"][first]["command_scope_bytes"],
        }
    wall = [r["wall"] for r in results]
    return {
        "steps": steps,
        "wall_seconds": spread(wall),
        "ms_per_step": round(statistics.median(wall) / steps * 1000, 4),
        "windows": windows,
    }


# -- loop_100k --------------------------------------------------------------------------------


async def loop_once(playbook: PlaybookDef, items: int) -> dict[str, float]:
    """One run of the big loop: wall time and ms per item in the first and last tenth."""
    ended: list[float] = []

    def listen(event: Event) -> None:
        if event.type == ev.STEP_DONE and event.iteration is not None:
            ended.append(time.perf_counter())

    with tempfile.TemporaryDirectory(prefix="noetl-bench-") as tmp:
        runtime = await open_embedded(Settings(home=Path(tmp), db=Path(tmp) / "noetl.db"))
        runtime.control.listen(listen)
        try:
            began = time.perf_counter()
            summary = await runtime.run(playbook)
            wall = time.perf_counter() - began
        finally:
            await runtime.close()
    if summary.status != "done" or len(ended) != items:
        raise RuntimeError(f"loop ended {summary.status} after {len(ended)} of {items} items")
    tenth = max(1, items // 10)
    first = (ended[tenth - 1] - began) / tenth * 1000
    last = (ended[-1] - ended[-tenth - 1]) / tenth * 1000
    return {"wall": wall, "first": first, "last": last}


def case_loop(runs: int, scale: float) -> dict[str, Any]:
    """The 100,000-item parallel loop."""
    items = scaled(100_000, scale)
    playbook = loop_playbook(items)
    results = [asyncio.run(loop_once(playbook, items)) for _ in range(runs)]
    wall = [r["wall"] for r in results]
    first = statistics.median(r["first"] for r in results)
    last = statistics.median(r["last"] for r in results)
    return {
        "iterations": items,
        "wall_seconds": spread(wall),
        "iterations_per_s": round(items / statistics.median(wall), 1),
        "ms_per_item_first_tenth": round(first, 4),
        "ms_per_item_last_tenth": round(last, 4),
        "last_over_first": round(last / first, 2),
    }


# -- resume_1m --------------------------------------------------------------------------------


def loop_source(events: int) -> str:
    """YAML of a chain of parallel noop loops with more than `events` events in all (about two
    per item; the sandbox bounds one `range` to 100,000 items; a resumed execution needs its
    source)."""
    size = min(events, 100_000)
    loops = events // (2 * size) + 1
    head = (
        "apiVersion: noetl.io/v2\nkind: Playbook\n"
        "metadata: {name: bench_resume, path: benchmarks/bench_resume}\n"
        f"workload: {{n: {size}}}\nworkflow:\n"
    )
    steps = []
    for i in range(loops):
        then = f"    next: l{i + 1}\n" if i + 1 < loops else ""
        steps.append(
            f"  - step: l{i}\n    tool: {{kind: noop}}\n{then}"
            "    loop:\n      in: '{{ range(workload.n) | list }}'\n      iterator: item\n"
            f"      spec: {{mode: parallel, max_in_flight: {MAX_IN_FLIGHT}}}\n"
        )
    return head + "".join(steps)


def loop_log(events: int) -> Iterator[list[Event]]:
    """Batches of a running loop execution's log, at least `events` events in all (decided by
    the engine, every command answered at once, the last ones left pending)."""
    source = loop_source(events)
    playbook = load_playbook(source)
    first = start(playbook, EXECUTION_ID)
    started = first.events[0]
    described = {**started.payload["playbook"], "source": source, "file": None}
    yield [replace(started, payload={**started.payload, "playbook": described}), *first.events[1:]]
    state, pending, count = first.state, deque(first.commands), len(first.events)
    while count < events:
        command = pending.popleft()
        incoming = Event(
            ev.STEP_DONE,
            command.execution_id,
            command.step,
            command.iteration,
            command.command_id,
            {"result": None, "vars": {}, "set_ctx": {}},
            origin="worker",
            idempotency_key=f"step.end|{command.command_id}",
        )
        decision = decide(playbook, state, incoming)
        state = decision.state
        pending.extend(decision.commands)
        count += 1 + len(decision.events)
        yield [incoming, *decision.events]


async def write_log(path: Path, events: int) -> int:
    """Write the running execution's log to the SQLite file at `path`; its event count."""
    store = SqliteEventStore.open(path)
    written = 0
    try:
        chunk: list[Event] = []
        for batch in loop_log(events):
            chunk.extend(batch)
            if len(chunk) >= 5000:
                written += len((await store.append_batches({EXECUTION_ID: chunk}))[EXECUTION_ID])
                chunk = []
        if chunk:
            written += len((await store.append_batches({EXECUTION_ID: chunk}))[EXECUTION_ID])
    finally:
        await store.close()
    return written


def own_peak_rss_mb() -> float:
    """This process's own peak RSS (Linux `VmHWM`, reset by exec; `ru_maxrss` is not: a child
    started by a process that held the million events would report the parent's peak)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def resume_once(path: Path, events: int) -> dict[str, Any]:
    """Resume in a fresh runtime, page the event list, cancel and close."""
    runtime = await open_embedded(Settings(home=path.parent, db=path))
    try:
        rss_before = own_peak_rss_mb()
        began = time.perf_counter()
        await runtime.control.resume(EXECUTION_ID)
        resumed = time.perf_counter() - began
        rss_after = own_peak_rss_mb()
        pages = {}
        for name, after in (("start", 0), ("middle", events // 2), ("end", events - PAGE)):
            t = time.perf_counter()
            page = await runtime.store.read(EXECUTION_ID, after_seq=after, limit=PAGE)
            pages[name] = round((time.perf_counter() - t) * 1000, 3)
            if len(page) != PAGE:
                raise RuntimeError(f"page at {after} had {len(page)} events")
        results = await step_results_ms(
            runtime.store, FileResultStore(path.parent / "results"), events
        )
        await runtime.control.cancel(EXECUTION_ID)
    finally:
        await runtime.close()
    return {
        "resume_seconds": round(resumed, 3),
        "peak_rss_mb_before": round(rss_before, 1),
        "peak_rss_mb_after": round(rss_after, 1),
        "page_ms": pages,
        "step_result_ms": results,
    }


async def step_results_ms(store: Any, results: ResultStore, events: int) -> dict[str, float]:
    """`noetl results` of the first loop (at full scale its 100,000 results, ended early in the
    log; at small scales it is still running: no result) and of a step that never ran (the
    whole log searched, newest first, by the store)."""
    timed = {}
    for name, step in (("first_loop", "l0"), ("no_result", "nope")):
        t = time.perf_counter()
        try:
            await step_result(store, results, EXECUTION_ID, step)
        except NotFoundError:
            if step != "nope" and events >= 400_000:  # by then l0 has ended
                raise
        timed[name] = round((time.perf_counter() - t) * 1000, 3)
    return timed


def case_resume(runs: int, scale: float) -> dict[str, Any]:
    """Resume of (and paging through) a running execution with 1,000,000 events; each resume
    in a fresh interpreter, so its peak RSS is the resume's own."""
    events = scaled(1_000_000, scale)
    with tempfile.TemporaryDirectory(prefix="noetl-bench-") as tmp:
        path = Path(tmp) / "noetl.db"
        began = time.perf_counter()
        written = asyncio.run(write_log(path, events))
        write_seconds = time.perf_counter() - began
        command = [sys.executable, __file__, "--resume-db", str(path), "--events", str(written)]
        results = []
        for _ in range(runs):
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise RuntimeError(f"resume failed (exit {done.returncode}):\n{done.stderr}")
            results.append(json.loads(done.stdout))
    return {
        "events": written,
        "write_seconds": round(write_seconds, 3),
        "resume_seconds": spread([r["resume_seconds"] for r in results]),
        "resume_peak_rss_mb": max(r["peak_rss_mb_after"] for r in results),
        "open_peak_rss_mb": max(r["peak_rss_mb_before"] for r in results),
        "page_ms": {
            name: round(statistics.median(r["page_ms"][name] for r in results), 3)
            for name in results[0]["page_ms"]
        },
        "step_result_ms": {
            name: round(statistics.median(r["step_result_ms"][name] for r in results), 3)
            for name in results[0]["step_result_ms"]
        },
    }


# -- measuring --------------------------------------------------------------------------------

CASES: dict[str, Callable[[int, float], dict[str, Any]]] = {
    "chain_10k": case_chain,
    "loop_100k": case_loop,
    "resume_1m": case_resume,
}


def run_case(name: str, runs: int, scale: float) -> dict[str, Any]:
    """Run one case in this process; its JSON entry with the process's peak RSS."""
    entry = CASES[name](runs, scale)
    entry["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return entry


def main() -> None:
    """Run every case (or one, with --case) and print the JSON."""
    parser = case_options(__doc__.splitlines()[0], CASES, runs=1)
    parser.add_argument("--resume-db", type=Path, help=argparse.SUPPRESS)  # resume_1m's child
    parser.add_argument("--events", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.resume_db:
        print(json.dumps(asyncio.run(resume_once(args.resume_db, args.events))))
        return
    print_cases(__file__, "long_executions", args, CASES, run_case)


if __name__ == "__main__":
    main()
