"""Retry from failure in the pure engine: which step runs a retry reuses and which run again."""

from __future__ import annotations

from noetl.dsl.load import load_playbook
from noetl.engine import events as ev
from noetl.engine.replay import replay
from support.engine_sim import Simulation, ok_worker, retry_simulation, worker_event

HEAD = "apiVersion: noetl.io/v2\nkind: Playbook\nmetadata: {name: t, path: tests/t}\n"

CHAIN = """
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
    next: [{step: report}]
  - step: report
    tool: {kind: noop}
"""


def pb(body: str = CHAIN):
    return load_playbook(HEAD + body)


def failing(step: str | None = None, iterations: tuple[int, ...] = ()):
    def worker(command):
        if command.step == step or (
            command.iteration is not None and command.iteration in iterations
        ):
            return "failed", {"kind": "python", "message": f"{command.step} broke"}
        return ok_worker(command)

    return worker


def ran(sim: Simulation) -> list[tuple[str, int | None]]:
    """(step, iteration) of every command the execution issued."""
    return [(e.step or "", e.iteration) for e in sim.log if e.type == ev.COMMAND_ISSUED]


def reused(sim: Simulation) -> list[tuple[str, int | None]]:
    return [(e.step or "", e.iteration) for e in sim.log if e.type == ev.STEP_REUSED]


def test_retry_reruns_the_failed_step_and_what_follows_it():
    first = Simulation(pb()).start().run(failing("load"))
    assert first.state.status == "failed"
    retry = retry_simulation(first).run(ok_worker)
    assert retry.state.status == "done"
    assert reused(retry) == [("start", None), ("fetch", None)]
    assert ran(retry) == [("load", None), ("report", None)]
    started = retry.log[0].payload["retry"]
    assert started["of"] == first.execution_id
    load = next(e for e in retry.log if e.type == ev.COMMAND_ISSUED and e.step == "load")
    assert load.payload["command"]["args"] == {"n": 4}  # computed from the reused loop results
    assert replay(retry.playbook, retry.log).snapshot() == retry.state.snapshot()


def test_retry_of_a_loop_runs_only_the_failed_iterations():
    first = Simulation(pb()).start().run(failing(iterations=(1, 3)))
    assert first.state.status == "failed"
    retry = retry_simulation(first).run(ok_worker)
    assert retry.state.status == "done"
    assert reused(retry) == [("start", None), ("fetch", 0), ("fetch", 2)]
    assert ran(retry) == [("fetch", 1), ("fetch", 3), ("load", None), ("report", None)]
    results = retry.state.results["fetch"]["results"]
    assert [r["index"] for r in results] == [0, 1, 2, 3]


def test_rerun_steps_and_everything_after_them_run_again():
    first = Simulation(pb()).start().run(failing("report"))
    retry = retry_simulation(first, rerun=("fetch",)).run(ok_worker)
    assert reused(retry) == [("start", None)]
    assert [s for s, _ in ran(retry)] == ["fetch"] * 4 + ["load", "report"]


def test_a_retry_of_a_retry_reuses_what_either_finished():
    first = Simulation(pb()).start().run(failing(iterations=(2,)))
    second = retry_simulation(first).run(failing("report"))
    assert second.state.status == "failed"
    third = retry_simulation(second).run(ok_worker)
    assert third.state.status == "done"
    assert reused(third) == [("start", None), ("fetch", None), ("load", None)]
    assert ran(third) == [("report", None)]


def test_parallel_branches_that_finished_are_reused_at_a_join():
    body = """
workflow:
  - step: start
    spec: {next_mode: inclusive}
    next: [{step: a}, {step: b}]
  - step: a
    tool: {kind: noop}
    next: [{step: join}]
  - step: b
    tool: {kind: noop}
    next: [{step: join}]
  - step: join
    spec: {join: all}
    tool: {kind: noop}
"""
    first = Simulation(pb(body)).start().run(failing("b"))
    assert first.state.status == "failed"
    retry = retry_simulation(first).run(ok_worker)
    assert retry.state.status == "done"
    assert reused(retry) == [("a", None)]
    assert ran(retry) == [("b", None), ("join", None)]


def test_ctx_set_by_reused_steps_is_restored():
    first = Simulation(pb()).start()
    while first.queue:
        command = first.queue.pop(0)
        status, value = failing("load")(command)
        event = worker_event(command, (status, value))
        if command.step == "start":
            event.payload["set_ctx"]["token"] = "abc"
        first.feed(event)
    retry = retry_simulation(first).run(ok_worker)
    assert retry.state.ctx == {"token": "abc"}


def test_a_new_execution_reuses_nothing():
    sim = Simulation(pb()).start().run(ok_worker)
    assert reused(sim) == []
    assert len(ran(sim)) == 7
