"""The engine, as "given these events, expect these decisions"."""

from __future__ import annotations

import random

import pytest

from noetl.dsl.load import load_playbook
from noetl.engine import events as ev
from noetl.engine.decide import cancel_event, decide
from noetl.engine.replay import replay
from support.engine_sim import Simulation, simulate, types, worker_event

HEAD = "apiVersion: noetl.io/v2\nkind: Playbook\nmetadata: {name: t, path: tests/t}\n"


def pb(body: str):
    return load_playbook(HEAD + body)


def of_type(log, type_):
    return [e for e in log if e.type == type_]


def test_start_uses_step_named_start_and_deep_merges_workload():
    playbook = pb(
        """
workload: {db: {host: a, port: 1}, n: 1}
workflow:
  - step: first
  - step: start
    next: [{step: first}]
"""
    )
    sim = Simulation(playbook).start({"db": {"port": 2}})
    started = sim.log[0]
    assert started.type == ev.PLAYBOOK_STARTED
    assert started.payload["workload"] == {"db": {"host": "a", "port": 2}, "n": 1}
    assert types(sim.log)[1:3] == [(ev.STEP_STARTED, "start"), (ev.STEP_DONE, "start")]
    assert sim.state.status == "done"


def test_entry_is_first_step_without_start():
    playbook = pb("workflow:\n  - step: a\n  - step: b\n")
    sim = simulate(playbook)
    assert [e.step for e in of_type(sim.log, ev.STEP_STARTED)] == ["a"]


def test_guard_false_skips_and_ends_branch():
    playbook = pb(
        """
workload: {go: false}
workflow:
  - step: start
    next: [{step: maybe}]
  - step: maybe
    when: "{{ workload.go }}"
    tool: {kind: noop}
    next: [{step: never}]
  - step: never
"""
    )
    sim = simulate(playbook)
    assert (ev.STEP_SKIPPED, "maybe") in types(sim.log)
    assert not of_type(sim.log, ev.COMMAND_ISSUED)
    assert "never" not in [e.step for e in sim.log]
    assert sim.state.status == "done"


def test_exclusive_fires_first_match_and_renders_args_into_token():
    playbook = pb(
        """
workload: {n: 5}
workflow:
  - step: start
    next:
      - step: big
        when: "{{ workload.n > 3 }}"
        args: {doubled: "{{ workload.n * 2 }}"}
      - step: any
  - step: big
    tool: {kind: noop}
  - step: any
    tool: {kind: noop}
"""
    )
    sim = Simulation(playbook).start()
    issued = of_type(sim.log, ev.COMMAND_ISSUED)
    assert [e.step for e in issued] == ["big"]
    assert issued[0].payload["command"]["args"] == {"doubled": 10}
    assert sim.queue[0].args == {"doubled": 10}


def test_inclusive_fires_every_match():
    playbook = pb(
        """
workflow:
  - step: start
    spec: {next_mode: inclusive}
    next: [{step: a}, {step: b, when: "{{ false }}"}, {step: c}]
  - step: a
    tool: {kind: noop}
  - step: b
    tool: {kind: noop}
  - step: c
    tool: {kind: noop}
"""
    )
    sim = Simulation(playbook).start()
    assert sorted(c.step for c in sim.queue) == ["a", "c"]


def test_unguarded_arc_does_not_fire_on_failure_and_failure_fails_execution():
    playbook = pb(
        """
workflow:
  - step: start
    spec: {next_mode: inclusive}
    next: [{step: bad}, {step: slow}]
  - step: bad
    tool: {kind: noop}
    next: [{step: after}]
  - step: slow
    tool: {kind: noop}
  - step: after
"""
    )
    sim = Simulation(playbook).start()
    bad = next(c for c in sim.queue if c.step == "bad")
    slow = next(c for c in sim.queue if c.step == "slow")
    decision = sim.feed(worker_event(bad, ("failed", {"kind": "python", "message": "boom"})))
    assert sim.state.status == "failed"
    assert decision.events[-1].type == ev.PLAYBOOK_FAILED
    error = decision.events[-1].payload["error"]
    assert error["step"] == "bad" and "boom" in error["message"]
    assert decision.cancelled == (slow.command_id,)
    late = sim.feed(worker_event(slow, ("done", 1)))
    assert late.events == () and sim.state.status == "failed"


def test_failure_routed_by_arc_on_event_status():
    playbook = pb(
        """
workflow:
  - step: start
    tool: {kind: noop}
    next:
      - step: recover
        when: "{{ event.status == 'error' }}"
        args: {why: "{{ event.error.message }}"}
      - step: fine
  - step: recover
  - step: fine
"""
    )
    sim = simulate(playbook, lambda c: ("failed", {"kind": "x", "message": "no"}))
    assert sim.state.status == "done"
    assert sim.state.result == {"why": "no"}


def test_guard_that_cannot_render_fails_execution_naming_step_arc_and_name():
    playbook = pb(
        """
workflow:
  - step: start
    tool: {kind: noop}
    next: [{step: end, when: "{{ workload.missing_thing > 1 }}"}]
  - step: end
"""
    )
    sim = simulate(playbook)
    assert sim.state.status == "failed"
    message = sim.state.error["message"]
    assert "step 'start' next[0]" in message and "missing_thing" in message


def test_a_failed_step_s_own_error_wins_over_a_guard_reading_its_missing_result():
    playbook = pb(
        """
workflow:
  - step: start
    tool: {kind: noop}
    next:
      - {step: end, when: "{{ start.rows | length > 0 }}"}
      - {step: recover, when: "{{ event.status == 'error' and false }}"}
  - step: end
  - step: recover
"""
    )
    failure = {"kind": "python", "message": "ValueError: no rows (line 3)"}
    sim = simulate(playbook, lambda c: ("failed", failure))
    assert sim.state.status == "failed"
    assert sim.state.error["message"] == "step 'start' failed: ValueError: no rows (line 3)"
    assert sim.state.error["kind"] == "python"


def test_a_failure_message_names_the_step_once():
    playbook = pb("workflow:\n  - step: start\n    tool: {kind: noop}\n")
    named = {"kind": "template", "message": "step 'start' task 'key' field 'url': 'x' is undefined"}
    sim = simulate(playbook, lambda c: ("failed", named))
    assert sim.state.error["message"] == named["message"]
    assert sim.state.error["message"].count("step 'start'") == 1


def test_vars_of_step_run_and_set_ctx_visible_to_arcs():
    playbook = pb(
        """
workflow:
  - step: start
    tool: {kind: noop}
    next:
      - step: high
        when: "{{ vars.flag and ctx.total == 3 }}"
      - step: low
  - step: high
    tool: {kind: noop}
  - step: low
    tool: {kind: noop}
"""
    )
    sim = Simulation(playbook).start()
    cmd = sim.queue.pop()
    event = worker_event(cmd, ("done", None))
    event.payload["vars"]["flag"] = True
    event.payload["set_ctx"]["total"] = 3
    sim.feed(event)
    assert [c.step for c in sim.queue] == ["high"]
    assert sim.state.ctx == {"total": 3}


def test_set_ctx_applies_in_event_order():
    playbook = pb(
        """
workflow:
  - step: start
    spec: {next_mode: inclusive}
    next: [{step: a}, {step: b}]
  - step: a
    tool: {kind: noop}
  - step: b
    tool: {kind: noop}
"""
    )
    sim = Simulation(playbook).start()
    a, b = sorted(sim.queue, key=lambda c: c.step)
    sim.queue.clear()
    eb = worker_event(b, ("done", None))
    eb.payload["set_ctx"].update(x="b", only_b=1)
    ea = worker_event(a, ("done", None))
    ea.payload["set_ctx"].update(x="a")
    sim.feed(eb)
    sim.feed(ea)
    assert sim.state.ctx == {"x": "a", "only_b": 1}


FANOUT_JOIN = """
workflow:
  - step: start
    spec: {next_mode: inclusive}
    next:
      - {step: a, args: {from_a: 1}}
      - {step: b, args: {from_b: 2}}
      - {step: c, args: {from_c: 3}}
  - step: a
    tool: {kind: noop}
    next: [{step: reduce, args: {a: "{{ a }}"}}]
  - step: b
    tool: {kind: noop}
    next: [{step: mid}]
  - step: mid
    tool: {kind: noop}
    next: [{step: reduce, args: {mid: "{{ mid }}"}}]
  - step: c
    tool: {kind: noop}
    next: [{step: reduce, args: {c: "{{ c }}"}}]
  - step: reduce
    spec: {join: JOIN}
    tool: {kind: noop}
"""


@pytest.mark.parametrize("seed", range(5))
def test_join_all_runs_once_after_every_branch(seed):
    playbook = pb(FANOUT_JOIN.replace("JOIN", "all"))
    sim = simulate(playbook, rng=random.Random(seed))
    reduce_runs = [e for e in of_type(sim.log, ev.STEP_STARTED) if e.step == "reduce"]
    assert len(reduce_runs) == 1
    assert set(reduce_runs[0].payload["args"]) == {"a", "mid", "c"}
    assert len(reduce_runs[0].payload["joined"]) == 3
    last_branch = max(
        i for i, e in enumerate(sim.log) if e.type == ev.STEP_DONE and e.step in ("a", "mid", "c")
    )
    assert sim.log.index(reduce_runs[0]) > last_branch
    assert sim.state.status == "done"


def test_join_any_runs_once_per_token():
    playbook = pb(FANOUT_JOIN.replace("JOIN", "any"))
    sim = simulate(playbook)
    assert len([e for e in of_type(sim.log, ev.STEP_STARTED) if e.step == "reduce"]) == 3


LOOP = """
workload: {items: ITEMS}
workflow:
  - step: start
    loop:
      in: "{{ workload.items }}"
      iterator: it
      spec: {mode: MODE, max_in_flight: 3}
    tool: {kind: noop}
    next: [{step: end, args: {n: "{{ start.results | length }}"}}]
  - step: end
"""


def loop_pb(items, mode):
    return pb(LOOP.replace("ITEMS", str(items)).replace("MODE", mode))


def test_sequential_loop_runs_one_iteration_at_a_time_in_order():
    sim = Simulation(loop_pb([10, 20, 30], "sequential")).start()
    seen = []
    while sim.queue:
        assert len(sim.queue) == 1
        cmd = sim.queue.pop()
        seen.append(cmd.iter["it"])
        sim.feed(worker_event(cmd, ("done", cmd.iter["it"] * 2)))
    assert seen == [10, 20, 30]
    assert sim.state.results["start"]["results"] == [20, 40, 60]
    assert sim.state.result == {"n": 3}


def test_parallel_loop_bounds_in_flight_and_orders_results():
    sim = Simulation(loop_pb(list(range(10)), "parallel")).start()
    rng = random.Random(7)
    while sim.queue:
        assert len(sim.queue) <= 3
        cmd = sim.queue.pop(rng.randrange(len(sim.queue)))
        sim.feed(worker_event(cmd, ("done", cmd.iter["index"])))
    done = of_type(sim.log, ev.LOOP_DONE)[0]
    assert done.payload["results"] == list(range(10))
    assert done.payload["stats"] == {"total": 10, "done": 10, "failed": 0}
    first = of_type(sim.log, ev.COMMAND_ISSUED)[0].payload["command"]["iter"]
    assert first == {"it": 0, "index": 0, "first": True, "last": False}


@pytest.mark.parametrize("items, issued", [([], 0), ([1], 1)])
def test_empty_and_single_item_loops(items, issued):
    sim = simulate(loop_pb(items, "parallel"))
    assert len(of_type(sim.log, ev.COMMAND_ISSUED)) == issued
    assert of_type(sim.log, ev.LOOP_STARTED)[0].payload["count"] == len(items)
    assert sim.state.status == "done" and sim.state.result == {"n": len(items)}


def test_failed_iteration_fails_the_loop_after_all_iterations():
    sim = simulate(
        loop_pb([1, 2, 3], "parallel"),
        lambda c: ("failed", {"message": "odd"}) if c.iter["it"] == 2 else ("done", 1),
    )
    done = of_type(sim.log, ev.LOOP_DONE)[0]
    assert done.payload["status"] == "failed"
    assert done.payload["results"] == [1, None, 1]
    assert done.payload["errors"][0]["index"] == 1
    assert sim.state.status == "failed"


def test_loop_in_that_is_not_a_list_fails_the_step():
    sim = simulate(pb(LOOP.replace("ITEMS", "{a: 1}").replace("MODE", "parallel")))
    failed = of_type(sim.log, ev.STEP_FAILED)[0]
    assert failed.payload["error"]["kind"] == "loop"
    assert "must render to a list, got dict" in failed.payload["error"]["message"]


def test_loop_back_edge_starts_new_epoch_with_new_command_ids():
    playbook = pb(
        """
workflow:
  - step: start
    loop: {in: "{{ [1, 2] }}", iterator: x}
    tool: {kind: noop}
    next:
      - step: start
        when: "{{ ctx.rounds | default(0) < 2 }}"
      - step: end
  - step: end
"""
    )
    rounds = iter(range(100))

    def worker(command):
        return "done", command.iter["x"]

    sim = Simulation(playbook).start()
    while sim.queue:
        cmd = sim.queue.pop(0)
        event = worker_event(cmd, worker(cmd))
        if cmd.iteration == 1:
            event.payload["set_ctx"]["rounds"] = next(rounds) + 1
        sim.feed(event)
    epochs = [e.payload["epoch"] for e in of_type(sim.log, ev.LOOP_STARTED)]
    assert epochs == [1, 2]
    ids = [e.command_id for e in of_type(sim.log, ev.COMMAND_ISSUED)]
    assert len(ids) == len(set(ids)) == 4
    assert sim.state.status == "done"


def test_cancellation_mid_loop_cancels_pending_and_ignores_late_results():
    sim = Simulation(loop_pb(list(range(6)), "parallel")).start()
    first = sim.queue.pop(0)
    sim.feed(worker_event(first, ("done", 0)))
    pending = {c.command_id for c in sim.queue}
    decision = sim.feed(cancel_event("1"))
    assert set(decision.cancelled) == pending
    assert sim.state.status == "cancelled"
    late = sim.feed(worker_event(sim.queue[0] if sim.queue else first, ("done", 1)))
    assert late.events == () and sim.state.status == "cancelled"


def test_command_expired_becomes_timeout_failure():
    playbook = pb(
        """
workflow:
  - step: start
    spec: {timeout: 2s}
    tool: {kind: noop}
"""
    )
    sim = simulate(playbook, lambda c: ("expired", None))
    failed = of_type(sim.log, ev.STEP_FAILED)[0]
    assert failed.origin == "engine"
    assert failed.payload["error"]["kind"] == "timeout"
    assert "after 2s" in failed.payload["error"]["message"]
    assert sim.state.status == "failed"
    assert sim.state.error["kind"] == "timeout"


def test_command_dead_becomes_delivery_failure():
    playbook = pb("workflow:\n  - step: start\n    tool: {kind: noop}\n")
    sim = Simulation(playbook).start()
    cmd = sim.queue.pop()
    dead = ev.Event(ev.COMMAND_DEAD, "1", cmd.step, None, cmd.command_id, origin="runtime")
    sim.feed(dead)
    assert sim.state.error["kind"] == "delivery"


def test_duplicate_and_redelivered_events_change_nothing():
    playbook = pb(
        """
workflow:
  - step: start
    tool: {kind: noop}
    next: [{step: two}]
  - step: two
    tool: {kind: noop}
"""
    )
    sim = Simulation(playbook).start()
    cmd = sim.queue.pop()
    event = worker_event(cmd, ("done", 1))
    sim.feed(event)
    before = sim.state.snapshot()
    again = decide(playbook, sim.state, event)
    assert again.events == () and again.commands == ()
    assert sim.state.snapshot() == before
    other_key = ev.Event(
        ev.STEP_DONE, "1", "start", None, cmd.command_id, {"result": 2}, origin="worker"
    )
    assert decide(playbook, sim.state, other_key).events == ()
    assert sim.state.results["start"] == 1


def test_out_of_order_task_events_after_step_done_are_harmless():
    playbook = pb("workflow:\n  - step: start\n    tool: {kind: noop}\n")
    sim = Simulation(playbook).start()
    cmd = sim.queue.pop()
    sim.feed(worker_event(cmd, ("done", 5)))
    late = ev.Event(
        ev.TASK_DONE, "1", "start", None, cmd.command_id, {"task": "start"}, origin="worker"
    )
    assert sim.feed(late).events == ()
    assert sim.state.result == 5


def test_command_ids_are_deterministic_across_runs():
    playbook = loop_pb([1, 2, 3], "parallel")
    a = simulate(playbook, rng=random.Random(1))
    b = simulate(playbook, rng=random.Random(2))
    ids = lambda s: sorted(e.command_id for e in of_type(s.log, ev.COMMAND_ISSUED))  # noqa: E731
    assert ids(a) == ids(b)


def test_last_finished_step_result_is_the_playbook_result():
    playbook = pb(
        """
workflow:
  - step: start
    tool: {kind: noop}
    next: [{step: end}]
  - step: end
"""
    )
    sim = simulate(playbook, lambda c: ("done", {"answer": 42}))
    assert of_type(sim.log, ev.PLAYBOOK_DONE)[0].payload["result"] == {"answer": 42}


def test_replay_reproduces_state_of_incremental_run():
    playbook = pb(FANOUT_JOIN.replace("JOIN", "all"))
    sim = simulate(playbook, rng=random.Random(3))
    assert replay(playbook, sim.log).snapshot() == sim.state.snapshot()


@pytest.mark.parametrize("items", [10, 200])
def test_keys_kept_against_repeats_do_not_grow_with_a_loop_s_items(items):
    """Keys of a command's events are kept while it runs: a long loop remembers per step run,
    not per event, and a repeat of an ended iteration's report still changes nothing."""
    playbook = loop_pb(list(range(items)), "parallel")
    sim = Simulation(playbook).start()
    first = sim.queue[0]
    sim.run()
    assert sim.state.status == "done" and sim.state.command_seen == {}
    assert len(sim.state.seen) < 10
    before = sim.state.snapshot()
    late = worker_event(first, ("done", "again"))
    assert decide(playbook, sim.state, late).events == ()
    assert sim.state.snapshot() == before


def test_a_repeat_of_an_ended_command_s_report_while_running_changes_nothing():
    playbook = pb(
        "workflow:\n  - step: a\n    tool: {kind: noop}\n    next: [{step: b}]\n"
        "  - step: b\n    tool: {kind: noop}\n"
    )
    sim = Simulation(playbook).start()
    a = sim.queue.pop(0)
    report = worker_event(a, ("done", 1))
    sim.feed(report)
    assert [c.step for c in sim.queue] == ["b"] and a.command_id not in sim.state.command_seen
    before = sim.state.snapshot()
    for again in (report, worker_event(a, ("failed", {"message": "late"}))):
        decision = decide(playbook, sim.state, again)
        assert decision.events == () and decision.commands == ()
        assert sim.state.snapshot() == before
