"""What one decision of the engine is made of: its result (`Decision`, `Routing`) and the
decision in progress, which emits engine events (applied to the state as they are emitted),
mints tokens and renders control-plane templates. `decide.py` and `arcs.py` build on it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from noetl.engine import events as ev
from noetl.engine.commands import Command
from noetl.engine.definition import PlaybookDef
from noetl.engine.events import Event
from noetl.engine.references import control_names, readable
from noetl.engine.state import ExecutionState, Token, evolve

END_KEY = "playbook.end"  # one terminal playbook event per execution


@dataclass(frozen=True, slots=True)
class Routing:
    """How one finished step run was routed: arcs whose guard was evaluated, arcs that fired."""

    step: str
    evaluated: int
    taken: int


@dataclass(frozen=True, slots=True)
class Decision:
    """What the engine decided for one incoming event."""

    state: ExecutionState
    events: tuple[Event, ...] = ()  # engine events to append after the incoming one, in order
    commands: tuple[Command, ...] = ()  # work to hand to workers
    cancelled: tuple[str, ...] = ()  # command ids whose work should stop (execution ended)
    routed: tuple[Routing, ...] = ()  # the routings this decision made (the arc match rate)


class DecisionInProgress:
    """One decision in progress: accumulates emitted events and commands, applying each event
    to the state as it is emitted."""

    def __init__(self, playbook: PlaybookDef, state: ExecutionState) -> None:
        self.pb = playbook
        self.s = state
        self.events: list[Event] = []
        self.commands: list[Command] = []
        self.cancelled: list[str] = []
        self.routed: list[Routing] = []
        self.queue: deque[tuple[str, Token]] = deque()

    # -- emitting ---------------------------------------------------------------------------

    def _emit(
        self,
        type_: str,
        step: str | None,
        payload: dict[str, Any],
        key: str,
        *,
        iteration: int | None = None,
        command_id: str | None = None,
    ) -> None:
        event = Event(
            type_, self.s.execution_id, step, iteration, command_id, payload, "engine", key
        )
        evolve(self.s, event)
        self.events.append(event)

    def _token(self, args: dict[str, Any], source: str | None, fresh: bool = True) -> Token:
        token = Token(self.s.next_token, args, source, fresh)
        self.s.next_token += 1
        return token

    def _render(self, value: Any, scope: dict[str, Any], where: str) -> Any:
        """Render a control-plane template; the step results it reads that are stored by
        reference are given as the values the shell loaded (see `noetl.engine.references`)."""
        stored = control_names(self.pb)
        if stored and self.s.results:
            names = self.pb.renderer.names(value) & stored
            text = value if isinstance(value, str) else str(value)
            scope = readable(scope, names, self.s.results, self.s.loaded, where, text)
        return self.pb.renderer.render(value, scope, where=where)

    def _fail_execution(self, error: dict[str, Any]) -> None:
        self.cancelled.extend(self.s.pending)
        self._emit(ev.PLAYBOOK_FAILED, error.get("step"), {"error": error}, END_KEY)
