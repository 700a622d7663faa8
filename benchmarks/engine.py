"""Micro-benchmark of the pure engine: decisions per second, microseconds per step transition.

Drives `start`/`decide` directly (no store, no bus, no worker: every command succeeds at once) for
a chain of noop steps and for parallel loops of growing size, and times `replay` of a loop's log.
Prints ONE JSON object: per case the median, min and max of `--runs` runs, derived rates and the
peak RSS of the process that ran it (each case runs in a fresh subprocess, so RSS is per case).

    .venv/bin/python benchmarks/engine.py [--runs 5] [--scale 1.0]

`--scale` multiplies every size (1,000-step chain; 1,000 / 10,000 / 50,000-item loops); case
names keep the sizes of scale 1.0. Linear loop cost shows as a constant time per item across
the three loop sizes (`linearity.ratio`, largest over smallest, should stay near 1).
"""

from __future__ import annotations

import resource
import statistics
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from harness import case_options, chain_playbook, loop_playbook, print_cases, scaled

from noetl.engine import events as ev
from noetl.engine.commands import Command
from noetl.engine.decide import decide, start
from noetl.engine.definition import PlaybookDef
from noetl.engine.events import Event
from noetl.engine.replay import replay

EXECUTION_ID = "1"
CHAIN_STEPS = 1000
LOOP_SIZES = {"loop_1k": 1000, "loop_10k": 10_000, "loop_50k": 50_000}
TARGET_US_PER_TRANSITION = 100.0

# -- the driver -------------------------------------------------------------------------------


def step_done(command: Command) -> Event:
    """The worker's `step.done` for a command (what a worker sends after a noop task)."""
    return Event(
        ev.STEP_DONE,
        command.execution_id,
        command.step,
        command.iteration,
        command.command_id,
        {"result": None, "vars": {}, "set_ctx": {}},
        origin="worker",
        idempotency_key=f"step.end|{command.command_id}",
    )


def drive(playbook: PlaybookDef, log: list[Event] | None = None) -> tuple[int, int]:
    """Run one execution to its end, answering commands in FIFO order: (events, decisions).

    The events are appended to `log` when one is given. Only the replay case keeps them: a log
    held in memory is not the engine's cost, and it makes the garbage collector's full passes
    slower as it grows.
    """
    first = start(playbook, EXECUTION_ID)
    state, events = first.state, len(first.events)
    if log is not None:
        log.extend(first.events)
    queue: deque[Command] = deque(first.commands)
    decisions = 1
    while queue and not state.terminal:
        incoming = step_done(queue.popleft())
        decision = decide(playbook, state, incoming)
        decisions += 1
        state = decision.state
        events += 1 + len(decision.events)
        if log is not None:
            log.append(incoming)
            log.extend(decision.events)
        queue.extend(decision.commands)
    if state.status != "done":
        raise RuntimeError(f"benchmark execution ended {state.status}, expected done")
    return events, decisions


# -- cases ------------------------------------------------------------------------------------

Timed = tuple[float, dict[str, Any]]  # (seconds, facts about the run)


def time_drive(playbook: PlaybookDef) -> Timed:
    """Seconds to drive one execution of `playbook`, with its decision and event counts."""
    began = time.perf_counter()
    events, decisions = drive(playbook)
    seconds = time.perf_counter() - began
    return seconds, {"decisions": decisions, "events": events}


def case_chain(scale: float) -> tuple[Callable[[], Timed], int, str]:
    """The 1,000-step noop chain: one transition per step."""
    steps = scaled(CHAIN_STEPS, scale)
    playbook = chain_playbook(steps)
    return lambda: time_drive(playbook), steps, "steps"


def case_loop(items: int) -> Callable[[float], tuple[Callable[[], Timed], int, str]]:
    """A parallel loop of `items` (scaled) noop iterations."""

    def build(scale: float) -> tuple[Callable[[], Timed], int, str]:
        n = scaled(items, scale)
        playbook = loop_playbook(n)
        return lambda: time_drive(playbook), n, "items"

    return build


def case_replay(scale: float) -> tuple[Callable[[], Timed], int, str]:
    """Replay of the 10,000-item loop's log (recorded once, untimed)."""
    n = scaled(LOOP_SIZES["loop_10k"], scale)
    playbook = loop_playbook(n)
    log: list[Event] = []
    drive(playbook, log)

    def once() -> Timed:
        began = time.perf_counter()
        state = replay(playbook, log)
        seconds = time.perf_counter() - began
        if state.status != "done":
            raise RuntimeError("replayed state is not done")
        return seconds, {"events": len(log)}

    return once, n, "items"


CASES: dict[str, Callable[[float], tuple[Callable[[], Timed], int, str]]] = {
    "chain_1k": case_chain,
    **{name: case_loop(size) for name, size in LOOP_SIZES.items()},
    "replay_loop_10k": case_replay,
}


# -- measuring --------------------------------------------------------------------------------


def run_case(name: str, runs: int, scale: float) -> dict[str, Any]:
    """Run one case `runs` times in this process; its JSON entry."""
    once, size, unit = CASES[name](scale)
    results = [once() for _ in range(runs)]
    seconds = sorted(s for s, _ in results)
    median = statistics.median(seconds)
    facts = results[0][1]
    entry: dict[str, Any] = {
        unit: size,
        **facts,
        "seconds": {
            "median": round(median, 6),
            "min": round(seconds[0], 6),
            "max": round(seconds[-1], 6),
        },
        "us_per_" + unit.rstrip("s"): round(median / size * 1e6, 2),
    }
    if "decisions" in facts:
        entry["decisions_per_s"] = round(facts["decisions"] / median)
        entry["us_per_decision"] = round(median / facts["decisions"] * 1e6, 2)
    entry["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return entry


def summarize(cases: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Linearity of the loop cost and the issue's target for a step transition."""
    per_item = {name: cases[name]["us_per_item"] for name in LOOP_SIZES}
    smallest, largest = per_item["loop_1k"], per_item["loop_50k"]
    worst = max(cases["chain_1k"]["us_per_step"], *per_item.values())
    return {
        "linearity": {"us_per_item": per_item, "ratio": round(largest / smallest, 2)},
        "targets": {
            "us_per_transition_below": TARGET_US_PER_TRANSITION,
            "worst_us_per_transition": worst,
            "met": worst < TARGET_US_PER_TRANSITION,
        },
    }


def main() -> None:
    """Run every case (or one, with --case) and print the JSON."""
    args = case_options(__doc__.splitlines()[0], CASES).parse_args()
    print_cases(__file__, "engine", args, CASES, run_case, summarize)


if __name__ == "__main__":
    main()
