"""The scenarios behind tests/golden/*.jsonl: a playbook and a scripted run for each pattern.

`python -m golden.record` (from tests/) re-records every history; the test replays the stored
files, so a change in the engine's decisions shows up as a divergence.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from noetl.engine import events as ev
from noetl.engine.decide import cancel_event
from support.engine_sim import Simulation, ok_worker, retry_simulation, worker_event

HEAD = "apiVersion: noetl.io/v2\nkind: Playbook\nmetadata: {name: golden, path: tests/golden}\n"

Driver = Callable[[Simulation], None]


def fifo(sim: Simulation) -> None:
    sim.run(ok_worker)


def shuffled(seed: int) -> Driver:
    return lambda sim: sim.run(ok_worker, random.Random(seed))


def failing(step: str) -> Driver:
    def worker(command):
        if command.step == step:
            return "failed", {"kind": "python", "message": f"{step} broke"}
        return ok_worker(command)

    return lambda sim: sim.run(worker)


def expire_first(sim: Simulation) -> None:
    sim.run(lambda c: ("expired", None))


def cancel_mid_loop(sim: Simulation) -> None:
    first = sim.queue.pop(0)
    sim.feed(worker_event(first, ok_worker(first)))
    late = sim.queue[0]
    sim.feed(cancel_event(sim.execution_id))
    sim.feed(worker_event(late, ok_worker(late)))


def duplicates_and_late_tasks(sim: Simulation) -> None:
    while sim.queue:
        command = sim.queue.pop()
        done = worker_event(command, ok_worker(command))
        sim.feed(done)
        sim.feed(done)  # redelivered: same idempotency key
        late = ev.Event(
            ev.TASK_DONE,
            command.execution_id,
            command.step,
            command.iteration,
            command.command_id,
            {"task": command.step, "attempt": 1},
            origin="worker",
            idempotency_key=f"task.done|{command.command_id}|1",
        )
        sim.feed(late)  # a task event arriving after its step ended


def loop_rounds(sim: Simulation) -> None:
    rounds = 0
    while sim.queue:
        command = sim.queue.pop(0)
        event = worker_event(command, ok_worker(command))
        if command.iteration == 1:
            rounds += 1
            event.payload["set_ctx"]["rounds"] = rounds
        sim.feed(event)


def retried(worker: Callable) -> Driver:
    """Run the execution with `worker` (it fails), then record a retry of it instead."""

    def driver(sim: Simulation) -> None:
        sim.run(worker)
        retry = retry_simulation(sim).run(ok_worker)
        sim.log[:], sim.state, sim.queue = retry.log, retry.state, retry.queue

    return driver


def failing_iterations(*indexes: int) -> Callable:
    def worker(command):
        if command.iteration in indexes:
            return "failed", {"kind": "python", "message": f"item {command.iteration} broke"}
        return ok_worker(command)

    return worker


def failing_step(step: str) -> Callable:
    def worker(command):
        if command.step == step:
            return "failed", {"kind": "python", "message": f"{step} broke"}
        return ok_worker(command)

    return worker


RETRY = """
workload: {items: [1, 2, 3, 4]}
workflow:
  - step: start
    tool: {kind: noop}
    next: [{step: fetch}]
  - step: fetch
    loop: {in: "{{ workload.items }}", iterator: it, spec: {mode: parallel, max_in_flight: 2}}
    tool: {kind: noop}
    next: [{step: load, args: {n: "{{ fetch.results | length }}"}}]
  - step: load
    tool: {kind: noop}
    next: [{step: end}]
  - step: end
"""

LOOP = """
workload: {items: ITEMS}
workflow:
  - step: start
    loop: {in: "{{ workload.items }}", iterator: it, spec: {mode: MODE, max_in_flight: 2}}
    tool: {kind: noop}
    next: [{step: end, args: {count: "{{ start.results | length }}"}}]
  - step: end
"""

FANOUT = """
workflow:
  - step: start
    spec: {next_mode: inclusive}
    next: [{step: a}, {step: b}, {step: c}]
  - step: a
    tool: {kind: noop}
    next: [{step: reduce, args: {a: "{{ a.step }}"}}]
  - step: b
    tool: {kind: noop}
    next: [{step: reduce, args: {b: "{{ b.step }}"}}]
  - step: c
    tool: {kind: noop}
    next: [{step: reduce, args: {c: "{{ c.step }}"}}]
  - step: reduce
    spec: {join: all}
    tool: {kind: noop}
"""

NESTED = """
workflow:
  - step: start
    spec: {next_mode: inclusive}
    next: [{step: left}, {step: right}]
  - step: left
    tool: {kind: noop}
    spec: {next_mode: inclusive}
    next: [{step: l1}, {step: l2}]
  - step: l1
    tool: {kind: noop}
    next: [{step: left_join}]
  - step: l2
    tool: {kind: noop}
    next: [{step: left_join}]
  - step: left_join
    spec: {join: all}
    next: [{step: all_join}]
  - step: right
    tool: {kind: noop}
    next: [{step: all_join}]
  - step: all_join
    spec: {join: all}
    tool: {kind: noop}
"""

ROUTED = """
workflow:
  - step: start
    tool: {kind: noop}
    next:
      - step: recover
        when: "{{ event.status == 'error' }}"
        args: {why: "{{ event.error.message }}"}
      - {step: end}
  - step: recover
  - step: end
"""

SCENARIOS: dict[str, tuple[str, Driver]] = {
    "linear": (
        """
workflow:
  - step: start
    tool: {kind: noop}
    next: [{step: two}]
  - step: two
    tool: {kind: noop}
    next: [{step: end}]
  - step: end
""",
        fifo,
    ),
    "exclusive": (
        """
workload: {n: 7}
workflow:
  - step: start
    next:
      - {step: small, when: "{{ workload.n < 5 }}"}
      - {step: big, when: "{{ workload.n >= 5 }}", args: {n: "{{ workload.n }}"}}
      - {step: small}
  - step: small
    tool: {kind: noop}
  - step: big
    tool: {kind: noop}
""",
        fifo,
    ),
    "set_ctx": (
        """
workload: {n: 2}
workflow:
  - step: start
    set_ctx: {seen: "{{ workload.n }}"}
    next:
      - {step: each, set_ctx: {via: start}, when: "{{ ctx.seen == 2 }}"}
  - step: each
    loop: {in: "{{ [ctx.seen, ctx.via] }}", iterator: x}
    tool: {kind: noop}
    set_ctx: {count: "{{ each.stats.total }}"}
    next:
      - {step: done, when: "{{ ctx.count == 2 }}"}
  - step: done
""",
        fifo,
    ),
    "inclusive": (FANOUT.replace("join: all", "join: any"), shuffled(1)),
    "join_all": (FANOUT, shuffled(2)),
    "nested_fanout": (NESTED, shuffled(3)),
    "loop_sequential": (LOOP.replace("ITEMS", "[1, 2, 3]").replace("MODE", "sequential"), fifo),
    "loop_parallel": (
        LOOP.replace("ITEMS", "[1, 2, 3, 4, 5]").replace("MODE", "parallel"),
        shuffled(4),
    ),
    "loop_empty": (LOOP.replace("ITEMS", "[]").replace("MODE", "parallel"), fifo),
    "loop_single": (LOOP.replace("ITEMS", "[9]").replace("MODE", "sequential"), fifo),
    "loop_epochs": (
        """
workflow:
  - step: start
    loop: {in: "{{ [1, 2] }}", iterator: x}
    tool: {kind: noop}
    next:
      - {step: start, when: "{{ ctx.rounds < 3 }}"}
      - {step: end}
  - step: end
""",
        loop_rounds,
    ),
    "failure_routed": (ROUTED, failing("start")),
    "failure_unhandled": (
        """
workflow:
  - step: start
    spec: {next_mode: inclusive}
    next: [{step: bad}, {step: other}]
  - step: bad
    tool: {kind: noop}
    next: [{step: end}]
  - step: other
    tool: {kind: noop}
  - step: end
""",
        failing("bad"),
    ),
    "guard_false": (
        """
workload: {enabled: false}
workflow:
  - step: start
    tool: {kind: noop}
    next: [{step: optional}]
  - step: optional
    when: "{{ workload.enabled }}"
    tool: {kind: noop}
""",
        fifo,
    ),
    "cancel_mid_loop": (
        LOOP.replace("ITEMS", "[1, 2, 3, 4]").replace("MODE", "parallel"),
        cancel_mid_loop,
    ),
    "timeout": (
        """
workflow:
  - step: start
    spec: {timeout: 1s}
    tool: {kind: noop}
""",
        expire_first,
    ),
    "retry_chain": (RETRY, retried(failing_step("load"))),
    "retry_loop": (RETRY, retried(failing_iterations(1, 3))),
    "duplicates_out_of_order": (
        """
workflow:
  - step: start
    tool: {kind: noop}
    next: [{step: two}]
  - step: two
    loop: {in: "{{ [1, 2] }}"}
    tool: {kind: noop}
""",
        duplicates_and_late_tasks,
    ),
}
