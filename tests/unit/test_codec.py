"""The one JSON codec of events and commands."""

import re
from dataclasses import FrozenInstanceError, fields
from datetime import UTC, datetime, timedelta

import pytest

from noetl.engine.commands import Command, command_id_for
from noetl.engine.events import STEP_DONE, Event
from noetl.errors import EventCodecError
from noetl.store.stamping import utc_now


def test_event_round_trips_through_json():
    ev = Event(STEP_DONE, "42", step="a", command_id="c1", payload={"result": [1, {"x": 2}]})
    back = Event.from_json(ev.to_json())
    assert back == Event(
        STEP_DONE,
        "42",
        step="a",
        command_id="c1",
        payload={"result": [1, {"x": 2}]},
        idempotency_key=ev.key,
    )


@pytest.mark.parametrize(
    "text, message",
    [
        ('{"type": "step.exploded", "execution_id": "1"}', "unknown event type"),
        ('{"type": "step.done", "execution_id": "1", "schema_version": 9}', "schema_version"),
        ('{"type": "step.done"}', "missing field 'execution_id'"),
        ("[1]", "must be an object"),
        ("{", "not valid JSON"),
    ],
)
def test_event_codec_rejects_bad_input(text, message):
    with pytest.raises(EventCodecError, match=message):
        Event.from_json(text)


def test_command_round_trips_and_ids_are_deterministic():
    cid = command_id_for("7", "fetch", 3, 12, 1)
    assert cid == command_id_for("7", "fetch", 3, 12, 1)
    assert cid != command_id_for("7", "fetch", 3, 13, 1)
    cmd = Command(cid, "7", "fetch", 3, epoch=1, iteration=12, iter={"city": "Paris", "index": 12})
    assert Command.from_json(cmd.to_json()) == cmd


@pytest.mark.parametrize(
    "type_, command_id, origin",
    [
        ("step.done", "c1", "worker"),
        ("step.failed", "c1", "worker"),
        ("step.done", None, "engine"),
        ("task.done", "c1", "worker"),
        ("command.expired", "c1", "runtime"),
        ("command.dead", "c1", "runtime"),
        ("playbook.cancelled", None, "client"),
        ("playbook.started", None, "engine"),
        ("command.issued", "c1", "engine"),
    ],
)
def test_origin_defaults_to_who_produces_the_type(type_, command_id, origin):
    event = Event(type_, "1", step="s", command_id=command_id)
    assert event.origin == origin
    assert Event.from_json(event.to_json()).origin == origin
    assert Event(type_, "1", command_id=command_id, origin="client").origin == "client"


@pytest.mark.parametrize("created_at", [None, "2026-12-06T10:00:00.000001+00:00"])
def test_a_stamped_event_is_the_checked_construction_with_the_stamp(created_at):
    ev = Event(
        STEP_DONE,
        "42",
        step="a",
        iteration=3,
        command_id="c1",
        payload={"x": 1},
        created_at=created_at,
    )
    stamped = ev.stamped(seq=7, event_id="99", created_at="2026-12-06T11:00:00.000002+00:00")
    # Every field, so a field added to Event and forgotten by `stamped` fails here.
    expected = Event(
        **{f.name: getattr(ev, f.name) for f in fields(Event)}
        | {"seq": 7, "event_id": "99", "idempotency_key": ev.key}
        | {"created_at": created_at or "2026-12-06T11:00:00.000002+00:00"}
    )
    for f in fields(Event):
        assert getattr(stamped, f.name) == getattr(expected, f.name), f.name
    assert stamped == expected and stamped.to_json() == expected.to_json()
    with pytest.raises(FrozenInstanceError):
        stamped.seq = 8  # type: ignore[misc]


def test_utc_now_is_isoformat_with_microseconds():
    before = datetime.now(UTC)
    text = utc_now()
    after = datetime.now(UTC)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00", text)
    assert before - timedelta(microseconds=1) <= datetime.fromisoformat(text) <= after
