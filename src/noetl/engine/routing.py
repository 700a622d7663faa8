"""Routing helpers: template scopes, truthiness, reachability for synchronizing joins."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from noetl.engine.commands import Command
from noetl.engine.definition import PlaybookDef
from noetl.engine.state import ExecutionState

_FALSE_STRINGS = frozenset({"", "false", "0", "no", "off", "none", "null"})


def truthy(value: Any) -> bool:
    """Truth of a rendered guard. Strings are read as words, so "False" is false."""
    if isinstance(value, str):
        return value.strip().lower() not in _FALSE_STRINGS
    return bool(value)


def base_scope(state: ExecutionState, args: Mapping[str, Any]) -> dict[str, Any]:
    """Scope of server-side templates: step results by name, then the reserved names."""
    scope: dict[str, Any] = dict(state.results)
    scope["workload"] = state.workload
    scope["ctx"] = state.ctx
    scope["args"] = args
    scope["execution_id"] = state.execution_id
    return scope


def command_scope(playbook: PlaybookDef, state: ExecutionState, command: Command) -> dict[str, Any]:
    """What a worker's templates see when running `command` (before pipeline locals): the
    reserved names, and the results of the earlier steps its step's templates name.

    Only named results travel, so a command's size does not grow with the execution's history
    (with every result, step n of a chain carried n results: O(n^2) bytes over a long chain).
    The names are complete: a sandboxed Jinja template reads nothing but the root names it
    spells out (no handle on its context), and tools see results only through templates.
    """
    results = state.results
    names = worker_names(playbook, command.step)
    scope: dict[str, Any] = {name: results[name] for name in names if name in results}
    scope["workload"] = state.workload
    scope["ctx"] = state.ctx
    scope["args"] = command.args
    scope["execution_id"] = state.execution_id
    scope["iter"] = dict(command.iter) if command.iter is not None else {}
    return scope


_NAMES: dict[tuple[int, str], tuple[PlaybookDef, frozenset[str]]] = {}


def worker_names(playbook: PlaybookDef, step: str) -> frozenset[str]:
    """Root names the templates a worker renders for `step` read (cached): its tasks' fields
    and eval rules, the workbook tasks it may call, and the step's own `set_ctx`."""
    cached = _NAMES.get((id(playbook), step))
    if cached is not None and cached[0] is playbook:
        return cached[1]
    definition = playbook.by_name.get(step)
    names: set[str] = set()
    if definition is not None:
        tasks = list(definition.tasks)
        if any(task.kind == "workbook" for task in tasks):
            tasks.extend(playbook.workbook.values())
        render = playbook.renderer
        for task in tasks:
            names |= render.names([task.config, task.args])
            for rule in task.eval:
                names |= render.names([rule.expr, rule.set_ctx, rule.set_vars, rule.set_iter])
        names |= render.names(definition.set_ctx)
    if len(_NAMES) > 1024:
        _NAMES.clear()
    found = frozenset(names)
    _NAMES[(id(playbook), step)] = (playbook, found)
    return found


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Merge `override` into a copy of `base`; nested mappings merge, anything else replaces."""
    merged = dict(base)
    for key, value in override.items():
        current = merged.get(key)
        if isinstance(current, Mapping) and isinstance(value, Mapping):
            merged[key] = deep_merge(current, value)
        else:
            merged[key] = value
    return merged


_REACH: dict[int, tuple[PlaybookDef, dict[str, frozenset[str]]]] = {}


def reachability(playbook: PlaybookDef) -> dict[str, frozenset[str]]:
    """For every step, the steps reachable from it through one or more arcs (cached)."""
    cached = _REACH.get(id(playbook))
    if cached is not None and cached[0] is playbook:
        return cached[1]
    edges = {s.name: [a.step for a in s.next] for s in playbook.steps}
    reach: dict[str, frozenset[str]] = {}
    for name in edges:
        seen: set[str] = set()
        stack = list(edges[name])
        while stack:
            nxt = stack.pop()
            if nxt not in seen:
                seen.add(nxt)
                stack.extend(edges.get(nxt, ()))
        reach[name] = frozenset(seen)
    if len(_REACH) > 256:
        _REACH.clear()
    _REACH[id(playbook)] = (playbook, reach)
    return reach


def ready_joins(playbook: PlaybookDef, state: ExecutionState) -> list[str]:
    """Held `join: all` steps that can fire now, in workflow order.

    A join fires when no running step run and no other held join can still send it a token.
    When only joins that can reach each other remain, the first in workflow order fires, so a
    cycle of joins never deadlocks.
    """
    if not state.held:
        return []
    reach = reachability(playbook)
    order = [s.name for s in playbook.steps if s.name in state.held]
    ready = [name for name in order if _join_ready(name, state, reach)]
    if not ready and not state.running and not state.pending:
        ready = order[:1]
    return ready


def _join_ready(name: str, state: ExecutionState, reach: Mapping[str, frozenset[str]]) -> bool:
    for step, count in state.running.items():
        if count and name in reach.get(step, ()):
            return False
    for other in state.held:
        if other != name and name in reach.get(other, ()) and other not in reach.get(name, ()):
            return False
    return True
