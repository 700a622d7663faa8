"""Workload templates are rendered once, when the execution starts, and recorded in
`playbook.started`: every step sees the same `now()` and uuid, and replay reads them back."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest

from noetl.bus.inprocess import InProcessBus
from noetl.dsl.load import load_playbook
from noetl.engine.replay import replay
from noetl.errors import TemplateError
from noetl.runtime.control import ControlPlane
from noetl.runtime.workload import started_workload
from noetl.store.memory import MemoryEventStore

PLAYBOOK = load_playbook(
    """\
apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: t, path: tests/t}
workload:
  stamp: "{{ now() }}"
  run: {id: "{{ job.uuid }}", label: "run-{{ execution_id }}"}
  plain: 1
workflow:
  - step: start
    next: [{step: end, when: "{{ workload.stamp == workload.stamp }}"}]
  - step: end
"""
)


def test_templates_are_rendered_with_one_instant_and_the_execution_id():
    workload = started_workload(PLAYBOOK, {"plain": 2}, "42")
    datetime.fromisoformat(workload["stamp"])
    assert workload["run"]["label"] == "run-42"
    assert len(workload["run"]["id"]) == 36
    assert workload["plain"] == 2
    again = started_workload(PLAYBOOK, None, "42")
    assert again["run"]["id"] != workload["run"]["id"]  # rendered per start, not per load


def test_a_workload_without_templates_is_the_merge():
    plain = load_playbook(
        "apiVersion: noetl.io/v2\nkind: Playbook\nmetadata: {name: t, path: t}\n"
        "workload: {a: {b: 1}}\nworkflow:\n  - step: start\n"
    )
    assert started_workload(plain, {"a": {"c": 2}}, "1") == {"a": {"b": 1, "c": 2}}


def test_a_template_that_cannot_render_names_its_workload_key():
    broken = load_playbook(
        "apiVersion: noetl.io/v2\nkind: Playbook\nmetadata: {name: t, path: t}\n"
        "workload: {a: '{{ workload.nope.x }}'}\nworkflow:\n  - step: start\n"
    )
    with pytest.raises(TemplateError) as caught:
        started_workload(broken, None, "1")
    assert "workload.a" in str(caught.value) and "nope" in str(caught.value)


def test_the_started_event_records_the_rendered_workload_and_replay_keeps_it():
    async def run() -> list:
        store = MemoryEventStore()
        control = ControlPlane(store, InProcessBus())
        control.open()
        try:
            execution_id = await control.start(PLAYBOOK)
            await control.wait(execution_id)
            return await store.read(execution_id)
        finally:
            await control.close()

    log = asyncio.run(run())
    workload = log[0].payload["workload"]
    datetime.fromisoformat(workload["stamp"])
    assert workload["run"]["label"] == f"run-{log[0].execution_id}"
    assert replay(PLAYBOOK, log).workload == workload
    assert replay(PLAYBOOK, log).status == "done"
