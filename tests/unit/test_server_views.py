"""The UI's derived views: the layered graph of a playbook and the step progress of a log."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path

from noetl.dsl.load import load_playbook
from noetl.engine import events as ev
from noetl.engine.events import Event
from noetl.server.graph import NODE_H, playbook_graph
from noetl.server.progress import Progress, ProgressCache
from noetl.store.memory import MemoryEventStore

GOLDEN = Path(__file__).parents[1] / "golden"
HEAD = "apiVersion: noetl.io/v2\nkind: Playbook\nmetadata: {name: g, path: g}\nworkflow:\n"


def recorded(name: str) -> list[Event]:
    """A golden log, each event stamped with a time of its own (the same in every fold)."""
    lines = (GOLDEN / f"{name}.jsonl").read_text().splitlines()
    return [
        replace(Event.from_dict(json.loads(line)), created_at=f"2026-12-06T00:00:00.{n:06d}Z")
        for n, line in enumerate(lines)
    ]


async def fold_in_pieces(events: list[Event], piece: int) -> list[dict]:
    """The progress after each `piece` events are appended to a store (one cache, so each
    fold goes on from the last), through the event store port as the server folds it."""
    store, cache, views = MemoryEventStore(), ProgressCache(), []
    execution_id = events[0].execution_id
    for at in range(0, len(events), piece):
        await store.append(execution_id, events[at : at + piece])
        views.append((await cache.get(store, execution_id)).to_dict())
    return views


def golden(name: str) -> tuple[dict, Progress]:
    playbook = load_playbook((GOLDEN / f"{name}.yaml").read_text())
    events = recorded(name)

    async def fold() -> Progress:
        store, progress = MemoryEventStore(), Progress()
        await store.append(events[0].execution_id, events)
        await progress.catch_up(store, events[0].execution_id)
        return progress

    return playbook_graph(playbook), asyncio.run(fold())


def test_fan_out_and_joins_sit_in_layers_with_their_arcs():
    graph, _ = golden("nested_fanout")
    layer = {node["id"]: node["layer"] for node in graph["nodes"]}
    assert layer == {
        "start": 0, "left": 1, "right": 1, "l1": 2, "l2": 2, "left_join": 3, "all_join": 4,
    }  # fmt: skip
    fan_in = {node["id"]: node["fan_in"] for node in graph["nodes"]}
    assert (fan_in["left_join"], fan_in["all_join"], fan_in["left"]) == (2, 2, 1)
    arcs = {(edge["from"], edge["to"]) for edge in graph["edges"]}
    assert ("left", "l1") in arcs and ("right", "all_join") in arcs and len(arcs) == 8
    assert len({(node["x"], node["y"]) for node in graph["nodes"]}) == len(graph["nodes"])


def test_guards_are_kept_and_a_loop_back_arc_is_drawn_as_a_back_edge():
    yaml = HEAD + (
        "  - step: start\n    next: [{step: poll}]\n"
        "  - step: poll\n    tool: {kind: noop}\n"
        "    next:\n      - {step: poll, when: '{{ poll.more }}'}\n      - {step: end}\n"
        "  - step: end\n"
    )
    graph = playbook_graph(load_playbook(yaml))
    back = [edge for edge in graph["edges"] if edge["back"]]
    assert [(e["from"], e["to"], e["when"]) for e in back] == [("poll", "poll", "{{ poll.more }}")]
    assert [node["layer"] for node in graph["nodes"]] == [0, 1, 2]


def test_two_hundred_steps_lay_out_without_overlaps():
    steps = []
    for n in range(200):
        after = (
            [f"s{n + 1}", f"s{n + 2}"] if n + 2 < 200 else ([f"s{n + 1}"] if n + 1 < 200 else [])
        )
        arcs = ", ".join(f"{{step: {name}}}" for name in after)
        name = "start" if n == 0 else f"s{n}"
        steps.append(f"  - step: {name}\n    spec: {{next_mode: inclusive}}\n    next: [{arcs}]\n")
    yaml = (HEAD + "".join(steps)).replace("{step: s0}", "{step: start}").replace(", next: []", "")
    graph = playbook_graph(load_playbook(yaml.replace("    next: []\n", "")))
    assert len(graph["nodes"]) == 200
    assert len({(node["x"], node["y"]) for node in graph["nodes"]}) == 200
    where = {node["id"]: node for node in graph["nodes"]}
    assert all(where[e["to"]]["y"] > where[e["from"]]["y"] for e in graph["edges"])
    assert graph["height"] == 199 * (NODE_H + 54) + NODE_H  # a chain: one step per layer


def test_a_parallel_loop_folds_into_one_run_with_its_counts():
    _, progress = golden("loop_parallel")
    steps = progress.to_dict()["steps"]
    start = steps["start"]
    assert start["state"] == "done" and start["run_count"] == 1
    assert start["runs"][0]["loop"] == {"total": 5, "done": 5, "failed": 0}
    assert steps["end"]["state"] == "done"
    assert progress.to_dict()["folded_seq"] > 0


def test_a_failure_names_the_step_and_routes_on():
    _, progress = golden("failure_routed")
    steps = progress.to_dict()["steps"]
    assert steps["start"]["state"] == "failed"
    assert steps["start"]["error"]["message"] == "start broke"
    assert steps["start"]["error_at"]["seq"] is not None
    assert steps["recover"]["state"] == "done"
    assert "end" not in steps  # never reached: pending in the UI


def test_a_cancelled_loop_keeps_the_iterations_it_finished():
    _, progress = golden("cancel_mid_loop")
    run = progress.to_dict()["steps"]["start"]["runs"][0]
    assert run["loop"]["done"] < run["loop"]["total"]
    assert run["state"] == "cancelled"  # it never ended: the execution was cancelled around it


def test_folding_in_pieces_equals_folding_at_once():
    for name in ("join_all", "loop_parallel", "cancel_mid_loop", "failure_routed"):
        events = recorded(name)
        (whole,) = asyncio.run(fold_in_pieces(events, len(events)))
        for piece in (1, 3, 7):
            assert asyncio.run(fold_in_pieces(events, piece))[-1] == whole, (name, piece)


def loop_run_twice() -> list[Event]:
    """A loop step that fails one iteration (after a failed attempt), ends, and runs again:
    the iterations of each run are counted into that run, workers in the order they ended."""
    eid = "e1"
    at = iter(f"2026-12-06T00:00:{n:02d}.000000Z" for n in range(60))

    def event(kind: str, iteration: int | None = None, n: int = 0, **payload: object) -> Event:
        return Event(kind, eid, "s", iteration, f"c{n}", payload, created_at=next(at))

    playbook = {"playbook": {"name": "p", "path": "p"}}
    return [
        Event(ev.PLAYBOOK_STARTED, eid, payload=playbook, created_at=next(at)),
        event(ev.STEP_STARTED, n=1),
        event(ev.LOOP_STARTED, n=1, count=4),
        event(ev.STEP_DONE, 0, n=10, worker_id="w2", result=0),
        event(ev.TASK_FAILED, 1, n=11, worker_id="w1"),
        event(ev.STEP_FAILED, 1, n=11, worker_id="w1", error={"message": "one broke"}),
        event(ev.STEP_DONE, 2, n=12, worker_id="w1"),
        event(ev.STEP_DONE, 3, n=13, worker_id="w3"),
        event(ev.LOOP_DONE, n=1, status="failed", stats={"total": 4, "done": 3, "failed": 1}),
        event(ev.STEP_STARTED, n=2),
        event(ev.LOOP_STARTED, n=2, count=2),
        event(ev.STEP_DONE, 0, n=20, worker_id="w4"),
    ]


def test_a_loop_run_twice_counts_each_run_and_keeps_the_latest_error(tmp_path):
    events = loop_run_twice()
    (whole,) = asyncio.run(fold_in_pieces(events, len(events)))
    for piece in (1, 2, 5):
        assert asyncio.run(fold_in_pieces(events, piece))[-1] == whole, piece
    step = whole["steps"]["s"]
    first, second = step["runs"]
    assert (first["state"], first["loop"]) == ("failed", {"total": 4, "done": 3, "failed": 1})
    assert (first["workers"], first["failed_attempts"]) == (["w2", "w1", "w3"], 1)
    assert (second["state"], second["loop"]) == ("running", {"total": 2, "done": 1, "failed": 0})
    assert (second["workers"], second["failed_attempts"]) == (["w4"], 0)
    assert step["error"] == {"message": "one broke"}
    assert step["error_at"] == {"seq": 6, "iteration": 1, "at": "2026-12-06T00:00:05.000000Z"}
    assert (step["args_seq"], step["result_seq"], step["run_count"]) == (10, None, 2)
