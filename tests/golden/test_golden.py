"""Replay every recorded history: the engine must decide exactly what was recorded."""

from __future__ import annotations

from pathlib import Path

import pytest

from noetl.dsl.load import load_playbook
from noetl.engine import events as ev
from noetl.engine.events import Event
from noetl.engine.replay import replay

HERE = Path(__file__).parent
HISTORIES = sorted(HERE.glob("*.jsonl"))
STATUS = {
    ev.PLAYBOOK_DONE: "done",
    ev.PLAYBOOK_FAILED: "failed",
    ev.PLAYBOOK_CANCELLED: "cancelled",
}


def test_there_is_a_history_per_pattern():
    assert len(HISTORIES) >= 15


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: p.stem)
def test_history_replays_to_its_recorded_end(path):
    playbook = load_playbook(path.with_suffix(".yaml"))
    log = [Event.from_json(line) for line in path.read_text().splitlines() if line]
    assert [e.seq for e in log] == list(range(1, len(log) + 1))
    state = replay(playbook, log)
    ends = [e for e in log if e.type in ev.TERMINAL_PLAYBOOK]
    assert len(ends) == 1
    assert state.status == STATUS[ends[0].type]
    assert state.idle
