"""What a command hands to its worker: the reserved names and only the results it names."""

from __future__ import annotations

import json

from noetl.dsl.load import load_playbook
from noetl.engine.routing import command_scope, worker_names
from support.engine_sim import Simulation, ok_worker, worker_event

HEAD = "apiVersion: noetl.io/v2\nkind: Playbook\nmetadata: {name: t, path: tests/t}\n"


def pb(body: str):
    return load_playbook(HEAD + body)


def run_until(sim: Simulation, step: str):
    """Answer commands until the next one is for `step`; that command."""
    while sim.queue[0].step != step:
        sim.feed(_done(sim.queue.pop(0)))
    return sim.queue[0]


def _done(command):
    return worker_event(command, ok_worker(command))


CHAIN = """
workload: {n: 1}
workflow:
  - step: a
    tool: {kind: noop}
    next: [{step: b}]
  - step: b
    tool: {kind: noop}
    next: [{step: c}]
  - step: c
    tool: {kind: python, code: "result = x", args: {x: "{{ a.step }}"}}
"""


def test_a_command_carries_the_results_its_templates_name_and_no_others():
    playbook = pb(CHAIN)
    sim = Simulation(playbook).start()
    command = run_until(sim, "c")
    assert set(sim.state.results) == {"a", "b"}
    scope = command_scope(playbook, sim.state, command)
    assert scope["a"] == {"step": "a"}
    assert "b" not in scope
    assert scope["workload"] == {"n": 1}
    assert scope["ctx"] == {} and scope["args"] == {} and scope["iter"] == {}
    assert scope["execution_id"] == "1"


def test_command_size_stays_flat_along_a_chain():
    steps = 60
    workflow = [
        f"  - step: s{i}\n    tool: {{kind: noop}}\n    next: [{{step: s{i + 1}}}]\n"
        for i in range(steps - 1)
    ]
    workflow.append(f"  - step: s{steps - 1}\n    tool: {{kind: noop}}\n")
    playbook = pb("workflow:\n" + "".join(workflow))
    sim = Simulation(playbook).start()
    sizes = []
    while sim.queue:
        command = sim.queue[0]
        sizes.append(len(json.dumps(command_scope(playbook, sim.state, command))))
        sim.feed(_done(sim.queue.pop(0)))
    assert sim.state.status == "done" and len(sim.state.results) == steps
    assert max(sizes) == min(sizes)


def test_worker_names_cover_eval_rules_step_set_ctx_and_workbook_tasks():
    playbook = pb(
        """
workbook:
  - name: helper
    tool: {kind: python, code: "result = y", args: {y: "{{ from_workbook }}"}}
workflow:
  - step: start
    set_ctx: {seen: "{{ from_set_ctx }}"}
    tool:
      - first: {kind: workbook, name: helper}
      - second:
          kind: noop
          eval:
            - expr: "{{ from_rule > 1 }}"
              do: continue
              set_vars: {v: "{{ from_set_vars }}"}
  - {step: from_workbook}
  - {step: from_set_ctx}
  - {step: from_rule}
  - {step: from_set_vars}
"""
    )
    names = worker_names(playbook, "start")
    assert {"from_workbook", "from_set_ctx", "from_rule", "from_set_vars"} <= names
    assert worker_names(playbook, "no such step") == frozenset()
