"""The UI's derived views: the layered graph of a playbook and the step progress of a log."""

from __future__ import annotations

import json
from pathlib import Path

from noetl.dsl.load import load_playbook
from noetl.engine.events import Event
from noetl.server.graph import NODE_H, playbook_graph
from noetl.server.progress import Progress

GOLDEN = Path(__file__).parents[1] / "golden"
HEAD = "apiVersion: noetl.io/v2\nkind: Playbook\nmetadata: {name: g, path: g}\nworkflow:\n"


def golden(name: str) -> tuple[dict, Progress]:
    playbook = load_playbook((GOLDEN / f"{name}.yaml").read_text())
    events = [
        Event.from_dict(json.loads(line))
        for line in (GOLDEN / f"{name}.jsonl").read_text().splitlines()
    ]
    progress = Progress()
    progress.apply(events)
    return playbook_graph(playbook), progress


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
    events = [
        Event.from_dict(json.loads(line))
        for line in (GOLDEN / "join_all.jsonl").read_text().splitlines()
    ]
    whole, pieces = Progress(), Progress()
    whole.apply(events)
    for at in range(0, len(events), 3):
        pieces.apply(events[at : at + 3])
    assert pieces.to_dict() == whole.to_dict()
