"""Stored results read by control-plane templates (loop.in, guards, arc args, set_ctx).

The engine renders them without I/O: the shell (`noetl.runtime.reads.ControlReads`) loads the
references the playbook's control-plane templates name before the event bringing them is
decided, within a per-execution limit; past it, or when the stored body is gone, the template
reading it fails naming the step and the field.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from noetl.dsl.load import load_playbook
from noetl.engine import events as ev
from noetl.engine.decide import decide, start
from noetl.engine.events import Event
from noetl.engine.references import Loaded, control_names, wanted
from noetl.engine.replay import replay
from noetl.engine.state import ExecutionState
from noetl.runtime.reads import ControlReads
from noetl.store.results import MemoryResultStore, encode
from support.engine_sim import worker_event

PLAYBOOK = load_playbook(
    """\
apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: t, path: tests/t}
workflow:
  - step: start
    tool: {kind: python, code: "result = list(range(n))"}
    next:
      - step: double
        when: "{{ start | length > 2 }}"
        set_ctx: {first: "{{ start[0] }}"}
  - step: double
    loop: {in: "{{ start }}", iterator: x, spec: {mode: parallel, max_in_flight: 2}}
    tool: {kind: python, code: "result = 2 * x"}
  - step: unread
    tool: {kind: python, code: "result = 1"}
"""
)
ITEMS = list(range(5))


async def _stored(store: MemoryResultStore, value: Any) -> dict[str, Any]:
    return await store.put("1", encode(value))


def _run_to_loop(reads: ControlReads, ref: dict[str, Any]) -> tuple[ExecutionState, list[Event]]:
    """Start, then `start` ends with `ref` as its result: what the loop step does with it."""
    state = reads.new_state()
    first = start(PLAYBOOK, "1")
    state = replay(PLAYBOOK, first.events, state.loaded)
    (command,) = first.commands
    ended = worker_event(command, ("done", ref))
    asyncio.run(reads.before(PLAYBOOK, state, ended))
    decision = decide(PLAYBOOK, state, ended)
    return decision.state, [*first.events, ended, *decision.events]


def test_only_results_read_by_control_plane_templates_are_wanted():
    assert control_names(PLAYBOOK) == frozenset({"start"})
    ref = {"result_ref": {"key": "1/abc", "size": 10}}
    done = Event(ev.STEP_DONE, "1", "start", None, "c", {"result": ref})
    assert wanted(PLAYBOOK, done) == [ref]
    assert wanted(PLAYBOOK, Event(ev.STEP_DONE, "1", "unread", None, "c", {"result": ref})) == []
    assert wanted(PLAYBOOK, Event(ev.STEP_DONE, "1", "start", None, "c", {"result": [1]})) == []


def test_a_loop_over_a_stored_result_iterates_its_value():
    store = MemoryResultStore()
    ref = asyncio.run(_stored(store, ITEMS))
    state, log = _run_to_loop(ControlReads(store, 1024), ref)
    (started,) = [e for e in log if e.type == ev.LOOP_STARTED]
    assert started.payload["count"] == len(ITEMS)
    assert state.ctx == {"first": 0}
    issued = [
        e.payload["command"]["iter"]["x"]
        for e in log
        if e.type == ev.COMMAND_ISSUED and e.iteration is not None
    ]
    assert issued == [0, 1]  # max_in_flight 2
    assert state.results["start"] == ref  # the state (and the log) keep the reference
    assert all(len(encode(e.payload)) < 1024 for e in log if e.origin == "engine")


def test_replay_with_the_same_loads_decides_the_same():
    store = MemoryResultStore()
    ref = asyncio.run(_stored(store, ITEMS))
    reads = ControlReads(store, 1024)
    live, log = _run_to_loop(reads, ref)
    again = asyncio.run(reads.replay(PLAYBOOK, _in_pages(log, 2)))
    assert again.snapshot() == live.snapshot()


async def _in_pages(log: list[Event], size: int) -> AsyncIterator[list[Event]]:
    """The log as a store reads it back: pages of `size` events."""
    for first in range(0, len(log), size):
        yield log[first : first + size]


def test_a_stored_result_past_the_limit_fails_the_template_naming_step_and_field():
    store = MemoryResultStore()
    ref = asyncio.run(_stored(store, ITEMS))
    state, log = _run_to_loop(ControlReads(store, 4), ref)
    assert state.status == "failed"
    message = state.error["message"]
    assert "step 'start' next[0] (to 'double') when" in message
    assert "the result of step 'start' is stored by reference (11 bytes)" in message
    assert "NOETL_CONTROL_READ_LIMIT" in message
    assert not [e for e in log if e.type == ev.LOOP_STARTED]


def test_the_limit_is_per_execution_and_counts_in_log_order():
    store = MemoryResultStore()
    small, large = asyncio.run(_stored(store, [1])), asyncio.run(_stored(store, ITEMS))
    loaded = Loaded(12)
    assert loaded.admit(small)
    loaded.put(small, [1])
    assert not loaded.admit(large)  # its 11 bytes fit alone, not after the 3 of `small`
    assert loaded.missing([small, large]) == []


def test_a_stored_result_that_is_gone_fails_the_template_saying_so():
    store = MemoryResultStore()
    ref = asyncio.run(_stored(store, ITEMS))
    store.bodies.clear()
    state, _ = _run_to_loop(ControlReads(store, 1024), ref)
    assert state.status == "failed"
    assert "reading it back failed" in state.error["message"]
    assert "not found" in state.error["message"]


def test_without_a_result_store_a_reference_is_an_error_not_a_value():
    ref = {"result_ref": {"key": "1/abc", "size": 100}}
    state, _ = _run_to_loop(ControlReads(None, 0), ref)
    assert state.status == "failed"
    assert "loop.in must render to a list" not in state.error["message"]
    assert "stored by reference (100 bytes)" in state.error["message"]


def test_a_routing_step_passing_a_stored_result_on_makes_its_source_wanted():
    playbook = load_playbook(
        """\
apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: t, path: tests/t}
workflow:
  - step: start
    tool: {kind: python, code: "result = [1, 2]"}
    next: [{step: route}]
  - step: route
    next: [{step: each}]
  - step: each
    loop: {in: "{{ route }}", iterator: x}
    tool: {kind: noop}
"""
    )
    assert control_names(playbook) == frozenset({"route", "start"})
    store = MemoryResultStore()
    ref = asyncio.run(_stored(store, [1, 2]))
    reads = ControlReads(store, 1024)
    state = reads.new_state()
    first = start(playbook, "1")
    state = replay(playbook, first.events, state.loaded)
    ended = worker_event(first.commands[0], ("done", ref))
    asyncio.run(reads.before(playbook, state, ended))
    decision = decide(playbook, state, ended)
    assert [e.payload["count"] for e in decision.events if e.type == ev.LOOP_STARTED] == [2]
