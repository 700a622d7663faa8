"""Property-based tests of the engine over random playbook graphs and completion orders."""

from __future__ import annotations

import random
from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from noetl.dsl.templates import RENDERER
from noetl.engine import events as ev
from noetl.engine.decide import decide
from noetl.engine.definition import Arc, LoopDef, PlaybookDef, StepDef, TaskDef
from noetl.engine.replay import replay
from support.engine_sim import Simulation, worker_event

ON_ERROR = "{{ event.status == 'error' }}"


@st.composite
def playbooks(draw):
    """A random DAG of steps: arcs only go forward, so every execution must terminate."""
    n = draw(st.integers(min_value=1, max_value=8))
    steps = []
    for i in range(n):
        later = list(range(i + 1, n))
        targets = draw(st.lists(st.sampled_from(later), max_size=3, unique=True)) if later else []
        arcs = []
        for t in targets:
            guard = draw(st.sampled_from([None, None, ON_ERROR, "{{ true }}", "{{ false }}"]))
            arcs.append(Arc(step=f"s{t}", when=guard))
        has_tool = draw(st.booleans())
        loop = None
        if has_tool and draw(st.integers(0, 3)) == 0:
            items = list(range(draw(st.integers(0, 4))))
            mode = draw(st.sampled_from(["sequential", "parallel"]))
            loop = LoopDef(in_=items, iterator="x", mode=mode, max_in_flight=2)
        steps.append(
            StepDef(
                name=f"s{i}",
                tasks=(TaskDef(label="t", kind="noop"),) if has_tool else (),
                loop=loop,
                next=tuple(arcs),
                next_mode=draw(st.sampled_from(["exclusive", "inclusive"])),
                join=draw(st.sampled_from(["any", "any", "all"])),
            )
        )
    return PlaybookDef(name="random", steps=tuple(steps), renderer=RENDERER)


def run(playbook, seed, fail_rate):
    rng = random.Random(seed)

    def worker(command):
        if rng.random() < fail_rate:
            return "failed", {"kind": "test", "message": "random failure"}
        return "done", rng.randint(0, 9)

    sim = Simulation(playbook).start()
    steps = 0
    while sim.queue and not sim.state.terminal:
        command = sim.queue.pop(rng.randrange(len(sim.queue)))
        sim.feed(worker_event(command, worker(command)))
        steps += 1
        assert steps < 10_000, "execution did not terminate"
    return sim


COMMON = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@COMMON
@given(playbooks(), st.integers(0, 10_000), st.sampled_from([0.0, 0.2, 0.5]))
def test_every_execution_terminates_with_one_terminal_event(playbook, seed, fail_rate):
    sim = run(playbook, seed, fail_rate)
    assert sim.state.terminal
    ends = [e for e in sim.log if e.type in ev.TERMINAL_PLAYBOOK]
    assert len(ends) == 1 and ends[0] is sim.log[-1]


@COMMON
@given(playbooks(), st.integers(0, 10_000), st.sampled_from([0.0, 0.3]))
def test_replaying_the_log_gives_the_incremental_state(playbook, seed, fail_rate):
    sim = run(playbook, seed, fail_rate)
    assert replay(playbook, sim.log).snapshot() == sim.state.snapshot()


@COMMON
@given(playbooks(), st.integers(0, 10_000), st.data())
def test_a_duplicated_event_never_changes_the_state(playbook, seed, data):
    sim = run(playbook, seed, 0.2)
    state = replay(playbook, sim.log)
    before = state.snapshot()
    again = data.draw(st.sampled_from(sim.log))
    decision = decide(playbook, state, again)
    assert decision.events == () and decision.commands == ()
    assert state.snapshot() == before


@COMMON
@given(playbooks(), st.integers(0, 10_000), st.sampled_from([0.0, 0.3]))
def test_each_step_run_gets_exactly_one_terminal_event(playbook, seed, fail_rate):
    sim = run(playbook, seed, fail_rate)
    started = Counter()
    ended = Counter()
    for e in sim.log:
        if e.type == ev.STEP_STARTED:
            started[e.payload["token"]] += 1
        elif e.type == ev.LOOP_DONE or (e.type in (ev.STEP_DONE, ev.STEP_FAILED) and not _iter(e)):
            token = e.payload.get("token")
            if token is None:
                token = _token_of(sim.log, e.command_id)
            ended[token] += 1
    assert all(v == 1 for v in started.values())
    assert all(v == 1 for v in ended.values())
    if sim.state.status == "done":
        assert started == ended  # every run ended
    else:
        assert set(ended) <= set(started)


def _iter(event):
    return event.iteration is not None


def _token_of(log, command_id):
    for e in log:
        if e.type == ev.COMMAND_ISSUED and e.command_id == command_id:
            return e.payload["command"]["token"]
    raise AssertionError(f"no command.issued for {command_id}")
