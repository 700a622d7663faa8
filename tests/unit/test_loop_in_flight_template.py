"""`loop.spec.max_in_flight` given as a template: rendered on the control plane when the loop
starts; a bad value fails the step naming it and the field, and validation refuses a word."""

from __future__ import annotations

import pytest

from noetl.dsl.load import load_playbook
from noetl.engine import events as ev
from noetl.errors import PlaybookError
from support.engine_sim import Simulation

HEAD = "apiVersion: noetl.io/v2\nkind: Playbook\nmetadata: {name: t, path: tests/t}\n"


def loop_playbook(limit: str) -> str:
    return (
        HEAD
        + f"""\
workload: {{items: [1, 2, 3, 4, 5], width: 2}}
workflow:
  - step: start
    loop:
      in: "{{{{ workload.items }}}}"
      iterator: x
      spec: {{mode: parallel, max_in_flight: {limit}}}
    tool: {{kind: noop}}
"""
    )


def issued_before_any_result(limit: str, payload: dict | None = None) -> Simulation:
    return Simulation(load_playbook(loop_playbook(limit))).start(payload)


def test_a_template_limit_is_rendered_when_the_loop_starts():
    sim = issued_before_any_result('"{{ workload.width }}"', {"width": 3})
    assert len(sim.queue) == 3
    sim = issued_before_any_result('"{{ workload.width }}"')
    assert len(sim.queue) == 2


@pytest.mark.parametrize(
    ("given", "shown"),
    [(0, "0"), ("abc", "'abc'"), (2.5, "2.5"), (True, "True")],
)
def test_a_bad_rendered_limit_fails_the_step_naming_the_field(given, shown):
    sim = issued_before_any_result('"{{ workload.width }}"', {"width": given})
    assert sim.state.status == "failed"
    message = sim.state.error["message"]
    assert "step 'start' loop.spec.max_in_flight must render to a whole number" in message
    assert f"got {shown}" in message
    assert not [e for e in sim.log if e.type == ev.LOOP_STARTED]


def test_an_undefined_name_in_the_limit_fails_the_step_naming_it():
    sim = Simulation(load_playbook(loop_playbook('"{{ workload.nope }}"'))).start()
    assert sim.state.status == "failed"
    assert "step 'start' loop.spec.max_in_flight" in sim.state.error["message"]
    assert "nope" in sim.state.error["message"]


def test_a_word_that_is_not_a_template_is_refused_at_validation():
    with pytest.raises(PlaybookError) as caught:
        load_playbook(loop_playbook("many"))
    assert "max_in_flight must be a whole number or a template, got 'many'" in str(caught.value)
    assert "<playbook>:10:45:" in str(caught.value)
