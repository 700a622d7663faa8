"""replay: rebuilding state from a log and catching divergent histories."""

from __future__ import annotations

import dataclasses
import random

import pytest

from noetl.dsl.load import load_playbook
from noetl.engine import events as ev
from noetl.engine.replay import Replayer, replay
from noetl.errors import ReplayDivergence
from support.engine_sim import simulate

PLAYBOOK = """
apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: r, path: tests/r}
workload: {items: [1, 2, 3, 4]}
workflow:
  - step: start
    loop: {in: "{{ workload.items }}", iterator: x, spec: {mode: parallel, max_in_flight: 2}}
    tool: {kind: noop}
    next: [{step: check, args: {total: "{{ start.results | sum }}"}}]
  - step: check
    next:
      - {step: big, when: "{{ args.total > 5 }}"}
      - {step: small}
  - step: big
  - step: small
"""


def run(seed=0):
    playbook = load_playbook(PLAYBOOK)
    sim = simulate(playbook, lambda c: ("done", c.iter["x"]), rng=random.Random(seed))
    return playbook, sim


def test_replay_gives_the_incremental_state():
    playbook, sim = run()
    assert sim.state.status == "done"
    assert replay(playbook, sim.log).snapshot() == sim.state.snapshot()


@pytest.mark.parametrize("page", [1, 2, 3, 7, 1000])
def test_a_log_fed_in_pages_gives_the_state_of_the_whole_log(page):
    playbook, sim = run(seed=3)
    replayer = Replayer(playbook)
    for start in range(0, len(sim.log), page):
        replayer.feed(sim.log[start : start + page])
    assert replayer.finish().snapshot() == sim.state.snapshot()


def test_a_page_ending_inside_a_decision_only_fails_when_the_log_ends_there():
    playbook, sim = run()
    cut = next(i for i, e in enumerate(sim.log) if e.type == ev.STEP_STARTED) + 1
    replayer = Replayer(playbook)
    replayer.feed(sim.log[:cut])  # playbook.started's decision goes on in the next page
    with pytest.raises(ReplayDivergence, match="log ends where the engine decides"):
        replayer.finish()
    replayer.feed(sim.log[cut:])
    assert replayer.finish().status == "done"


def test_divergent_payload_names_the_first_differing_event():
    playbook, sim = run()
    log = list(sim.log)
    index = next(i for i, e in enumerate(log) if e.type == ev.STEP_STARTED and e.step == "check")
    log[index] = dataclasses.replace(log[index], payload={**log[index].payload, "args": {"x": 1}})
    with pytest.raises(ReplayDivergence, match=rf"seq {log[index].seq} step.started step 'check'"):
        replay(playbook, log)


def test_a_decision_missing_from_the_log_is_reported():
    playbook, sim = run()
    log = [e for e in sim.log if e.type != ev.PLAYBOOK_DONE]
    with pytest.raises(ReplayDivergence, match=r"log ends where the engine decides playbook\.done"):
        replay(playbook, log)


def test_an_engine_event_no_input_explains_is_reported():
    playbook, sim = run()
    log = list(sim.log)
    extra = dataclasses.replace(log[-1], seq=99)
    with pytest.raises(ReplayDivergence, match=r"seq 99 playbook\.done"):
        replay(playbook, [*log, extra])


def test_replay_against_a_changed_playbook_diverges():
    _, sim = run()
    changed = load_playbook(PLAYBOOK.replace("args.total > 5", "args.total > 50"))
    with pytest.raises(ReplayDivergence, match="step 'small'"):
        replay(changed, sim.log)
