"""The graph of a playbook, laid out in layers (what the UI draws as SVG).

Steps are nodes, arcs are edges carrying their guards. The layout is the classic layered one:
back edges (arcs that loop back) are set aside, each step sits one layer below its deepest
predecessor, and each layer is ordered by the mean position of its neighbours in the layer
above, then below, a few times over, which keeps crossings few. At 200 steps that is a few
milliseconds of work, and the drawing reads top to bottom.
"""

from __future__ import annotations

from typing import Any

from noetl.engine.definition import PlaybookDef, StepDef

SWEEPS = 4  # ordering passes (down and up); more rarely changes a real playbook's layout
NODE_W, NODE_H, GAP_X, GAP_Y = 180, 56, 36, 54  # pixels


def playbook_graph(playbook: PlaybookDef) -> dict[str, Any]:
    """`{nodes: [...], edges: [...], width, height}` with node positions (x, y: top left)."""
    names = [step.name for step in playbook.steps]
    edges: list[dict[str, Any]] = [
        {"from": step.name, "to": arc.step, "when": _text(arc.when), "args": bool(arc.args)}
        for step in playbook.steps
        for arc in step.next
        if arc.step in playbook.by_name
    ]
    back = _back_edges(names, edges)
    forward = [(e["from"], e["to"]) for i, e in enumerate(edges) if i not in back]
    layers = _order(_layers(names, forward), forward)
    for i, edge in enumerate(edges):
        edge["back"] = i in back
    fan_in: dict[str, int] = {}
    for edge in edges:
        fan_in[edge["to"]] = fan_in.get(edge["to"], 0) + 1
    widest = max((len(layer) for layer in layers), default=1)
    nodes = []
    for depth, layer in enumerate(layers):
        indent = (widest - len(layer)) * (NODE_W + GAP_X) / 2  # centred: a fork over its branches
        for index, name in enumerate(layer):
            node = _node(playbook.by_name[name])
            x = indent + index * (NODE_W + GAP_X)
            node.update(fan_in=fan_in.get(name, 0), layer=depth, x=x, y=depth * (NODE_H + GAP_Y))
            nodes.append(node)
    return {
        "nodes": nodes,
        "edges": edges,
        "width": widest * (NODE_W + GAP_X) - GAP_X,
        "height": max(len(layers) * (NODE_H + GAP_Y) - GAP_Y, NODE_H),
        "node": {"width": NODE_W, "height": NODE_H},
    }


def _node(step: StepDef) -> dict[str, Any]:
    loop = None
    if step.loop is not None:
        loop = {"mode": step.loop.mode, "max_in_flight": step.loop.max_in_flight}
    return {
        "id": step.name,
        "desc": step.desc,
        "kinds": [task.kind for task in step.tasks],
        "loop": loop,
        "when": _text(step.when),
        "join": step.join,
        "next_mode": step.next_mode,
    }


def _text(value: Any) -> str | None:
    """A guard as the author wrote it (templates are kept as their source)."""
    if value is None:
        return None
    return value if isinstance(value, str) else str(getattr(value, "source", value))


def _back_edges(names: list[str], edges: list[dict[str, Any]]) -> set[int]:
    """Indexes of edges that close a cycle (found by a depth-first walk from every root)."""
    outgoing: dict[str, list[int]] = {name: [] for name in names}
    for i, edge in enumerate(edges):
        outgoing[edge["from"]].append(i)
    state: dict[str, int] = {}  # 1: on the walk's path, 2: finished
    back: set[int] = set()
    for root in names:
        if root in state:
            continue
        stack: list[tuple[str, int]] = [(root, 0)]
        state[root] = 1
        while stack:  # iterative: a 1,000-step chain must not hit the recursion limit
            name, at = stack.pop()
            if at < len(outgoing[name]):
                stack.append((name, at + 1))
                index = outgoing[name][at]
                target = edges[index]["to"]
                if state.get(target) == 1:
                    back.add(index)
                elif target not in state:
                    state[target] = 1
                    stack.append((target, 0))
            else:
                state[name] = 2
    return back


def _layers(names: list[str], forward: list[tuple[str, str]]) -> list[list[str]]:
    """Each step one layer below its deepest predecessor (longest path, in playbook order)."""
    incoming: dict[str, list[str]] = {name: [] for name in names}
    for source, target in forward:
        incoming[target].append(source)
    depth: dict[str, int] = {}
    pending = list(names)
    while pending:  # forward edges form a DAG, so each pass places at least one step
        rest = []
        for name in pending:
            if all(p in depth for p in incoming[name]):
                depth[name] = max((depth[p] + 1 for p in incoming[name]), default=0)
            else:
                rest.append(name)
        pending = rest
    layers: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for name in names:
        layers[depth[name]].append(name)
    return layers


def _order(layers: list[list[str]], forward: list[tuple[str, str]]) -> list[list[str]]:
    """Reorder each layer by the barycentre of its neighbours, alternating down and up."""
    above: dict[str, list[str]] = {}
    below: dict[str, list[str]] = {}
    for source, target in forward:
        above.setdefault(target, []).append(source)
        below.setdefault(source, []).append(target)
    for sweep in range(SWEEPS):
        down = sweep % 2 == 0
        sequence = range(1, len(layers)) if down else range(len(layers) - 2, -1, -1)
        for i in sequence:
            ref = layers[i - 1] if down else layers[i + 1]
            where = {name: index for index, name in enumerate(ref)}
            near = above if down else below
            layers[i] = sorted(layers[i], key=_barycentre(near, where, layers[i]))
    return layers


def _barycentre(near: dict[str, list[str]], where: dict[str, int], layer: list[str]) -> Any:
    current = {name: index for index, name in enumerate(layer)}

    def key(name: str) -> float:
        spots = [where[n] for n in near.get(name, ()) if n in where]
        return sum(spots) / len(spots) if spots else float(current[name])

    return key
