"""replay: rebuild an execution's state from its log, checking every recorded decision.

Inputs (worker, runtime and client events, and `playbook.started`) are fed to `decide` in log
order; the engine events recorded after each input must be exactly the ones `decide` produces
again. A difference raises `ReplayDivergence` naming the first differing event.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable
from typing import Any

from noetl.engine import events as ev
from noetl.engine.decide import decide
from noetl.engine.definition import PlaybookDef
from noetl.engine.events import Event, _json_default
from noetl.engine.references import Loaded
from noetl.engine.state import ExecutionState
from noetl.errors import ReplayDivergence


def is_input(event: Event) -> bool:
    """True for events the engine reacts to (as opposed to events the engine decided)."""
    return event.origin != "engine" or event.type == ev.PLAYBOOK_STARTED


def replay(
    playbook: PlaybookDef, events: Iterable[Event], loaded: Loaded | None = None
) -> ExecutionState:
    """Rebuild the state of one execution from its events (in seq order). `loaded`: the
    stored results its control-plane templates read, loaded by the shell beforehand."""
    replayer = Replayer(playbook, loaded)
    replayer.feed(events)
    return replayer.finish()


class Replayer:
    """`replay` for a log given in pieces (pages read one after another), so a long log never
    has to be in memory at once. Feed the pieces in seq order, then `finish`."""

    def __init__(self, playbook: PlaybookDef, loaded: Loaded | None = None) -> None:
        self.playbook = playbook
        self.state = ExecutionState(loaded=loaded if loaded is not None else Loaded())
        self._expected: deque[Event] = deque()  # decided by the last input, not yet matched

    def feed(self, events: Iterable[Event]) -> None:
        """Apply the next events of the log; raises `ReplayDivergence` at the first recorded
        event that the engine does not decide again."""
        expected = self._expected
        for event in events:
            if expected:
                produced = expected.popleft()
                if not same_decision(produced, event):
                    raise ReplayDivergence(
                        f"first differing event: {_describe(event)} was recorded, "
                        f"replay decides {_describe(produced)}"
                    )
                self.state.last_seq = max(self.state.last_seq, event.seq or 0)
                continue
            if not is_input(event):
                raise ReplayDivergence(
                    f"{_describe(event)} was recorded, but no input before it leads to it"
                )
            decision = decide(self.playbook, self.state, event)
            self.state = decision.state
            expected.extend(decision.events)

    def finish(self) -> ExecutionState:
        """The state the whole log gives (raises when the log stops short of a decision)."""
        if self._expected:
            raise ReplayDivergence(
                f"the log ends where the engine decides {_describe(self._expected[0])}"
            )
        return self.state


def same_decision(produced: Event, recorded: Event) -> bool:
    """Whether two events record the same decision (store-assigned fields aside)."""
    if (produced.type, produced.step, produced.iteration, produced.command_id, produced.key) != (
        recorded.type,
        recorded.step,
        recorded.iteration,
        recorded.command_id,
        recorded.key,
    ):
        return False
    return produced.payload == recorded.payload or _canonical(produced.payload) == _canonical(
        recorded.payload
    )


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=_json_default)


def _describe(event: Event) -> str:
    seq = f"seq {event.seq} " if event.seq is not None else ""
    where = f" step '{event.step}'" if event.step else ""
    it = f" iteration {event.iteration}" if event.iteration is not None else ""
    return f"{seq}{event.type}{where}{it}"
