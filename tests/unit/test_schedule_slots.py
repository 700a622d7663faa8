"""Schedule math on a fake clock: fire times (cron in a time zone, intervals) and the misfire
policies. Every time below is given; nothing reads a clock."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from noetl.errors import ConfigError
from noetl.runtime.slots import due, next_fire, parse_slot, slot_key, validate
from noetl.store.schedules import FIRED, SKIPPED, Schedule

T0 = datetime(2026, 3, 28, 0, 0, tzinfo=UTC)
NIGHTLY = Schedule("n", "p", cron="0 2 * * *", timezone="Europe/Paris", created_at=slot_key(T0))
EVERY = Schedule("e", "p", every=10, created_at=slot_key(T0))


def at(**delta: float) -> datetime:
    return T0 + timedelta(**delta)


def keys(decisions):
    return [(d.key, d.status) for d in decisions]


def test_cron_is_read_in_its_time_zone_across_a_clock_change():
    first = next_fire(NIGHTLY, T0)
    second = next_fire(NIGHTLY, first)
    assert first == datetime(2026, 3, 28, 1, 0, tzinfo=UTC)  # 02:00 CET
    # 29 March 02:00 does not exist in Paris (clocks jump to 03:00 CEST = 01:00 UTC).
    assert second == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    third = next_fire(NIGHTLY, second)
    assert third == datetime(2026, 3, 30, 0, 0, tzinfo=UTC)  # 02:00 CEST


def test_six_fields_put_seconds_first_and_intervals_count_from_creation():
    every_two = replace(NIGHTLY, cron="*/2 * * * * *", timezone="UTC")
    assert next_fire(every_two, at(seconds=1)) == at(seconds=2)
    assert next_fire(EVERY, at(seconds=25)) == at(seconds=30)
    assert next_fire(EVERY, at(seconds=30)) == at(seconds=40)


def test_nothing_is_due_before_the_first_slot_and_each_slot_once():
    assert due(EVERY, None, at(seconds=9)) == []
    assert keys(due(EVERY, None, at(seconds=10.2))) == [(slot_key(at(seconds=10)), FIRED)]
    assert due(EVERY, at(seconds=10), at(seconds=19.9)) == []


def test_skip_fires_the_latest_slot_when_it_is_fresh_and_records_the_missed():
    decisions = due(EVERY, at(seconds=10), at(seconds=65))
    assert keys(decisions) == [
        (slot_key(at(seconds=50)), SKIPPED),
        (slot_key(at(seconds=60)), FIRED),
    ]
    assert "4 earlier slot(s) not run" in str(decisions[0].reason)


def test_skip_fires_nothing_when_even_the_latest_slot_is_stale():
    decisions = due(NIGHTLY, None, at(days=3, hours=5))
    assert keys(decisions) == [(slot_key(datetime(2026, 3, 31, 0, 0, tzinfo=UTC)), SKIPPED)]
    assert "4 slot(s) missed" in str(decisions[0].reason)


def test_run_once_fires_the_latest_slot_however_late():
    decisions = due(replace(NIGHTLY, misfire="run_once"), None, at(days=3, hours=5))
    assert [d.status for d in decisions] == [SKIPPED, FIRED]
    assert decisions[-1].at == datetime(2026, 3, 31, 0, 0, tzinfo=UTC)


def test_catch_up_fires_the_missed_slots_in_order_up_to_its_limit():
    catch_up = replace(EVERY, misfire="catch_up", catch_up_limit=3)
    assert keys(due(catch_up, at(seconds=10), at(seconds=35))) == [
        (slot_key(at(seconds=20)), FIRED),
        (slot_key(at(seconds=30)), FIRED),
    ]
    many = due(catch_up, at(seconds=10), at(seconds=95))
    assert keys(many) == [
        (slot_key(at(seconds=60)), SKIPPED),  # 20..60 are left out: five slots
        (slot_key(at(seconds=70)), FIRED),
        (slot_key(at(seconds=80)), FIRED),
        (slot_key(at(seconds=90)), FIRED),
    ]
    assert "5 earlier slot(s)" in str(many[0].reason)
    cron = due(replace(NIGHTLY, misfire="catch_up", catch_up_limit=2), None, at(days=3, hours=5))
    assert [d.status for d in cron] == [SKIPPED, FIRED, FIRED]


def test_slot_keys_sort_as_times():
    times = [at(seconds=s) for s in (5, 100, 3600, 86400)]
    assert sorted(slot_key(t) for t in reversed(times)) == [slot_key(t) for t in times]
    assert all(parse_slot(slot_key(t)) == t for t in times)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"cron": None}, "cron"),
        ({"cron": "61 * * * *"}, "cron"),
        ({"cron": "* * *"}, "cron"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"misfire": "later"}, "misfire"),
        ({"overlap": "queue"}, "overlap"),
        ({"catch_up_limit": 0}, "catch_up_limit"),
        ({"cron": None, "every": 0.5}, "every"),
    ],
)
def test_bad_schedules_name_the_field(change, field):
    with pytest.raises(ConfigError, match=field):
        validate(replace(NIGHTLY, **change))
