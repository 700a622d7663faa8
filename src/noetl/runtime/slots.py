"""When a schedule fires: its fire times (cron in a time zone, or a fixed interval) and, given
the last slot handled and the time now, which slots to fire and which to skip (misfire policy).

Pure: the time is always given, so the rules are tested on a fake clock. A cron expression has
5 fields (minute first) or 6 (seconds first, as in Quartz); it is read in the schedule's time
zone, so `0 2 * * *` in Europe/Paris is 02:00 Paris time on either side of a clock change. An
interval schedule fires at `created_at + k * every`.

Misfire policies, for slots that passed while nothing fired them (the scheduler was down, the
schedule paused): `skip` fires only the latest slot, and only when it is at most `GRACE` old;
`run_once` fires the latest slot whatever its age; `catch_up` fires the missed slots in order,
at most `catch_up_limit` of them (the latest ones). Slots not fired are recorded as one skipped
slot (the latest of them), so the next look starts after them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from noetl.config import MAX_DURATION
from noetl.engine.storable import unstorable
from noetl.errors import ConfigError
from noetl.store.schedules import FIRED, MISFIRE_POLICIES, OVERLAP_POLICIES, SKIPPED, Schedule

GRACE = timedelta(seconds=30)  # a slot older than this when first seen was missed
MIN_EVERY = 1.0  # seconds: the shortest interval (and the finest cron resolution)


@dataclass(frozen=True)
class SlotDecision:
    """Fire (or skip, saying why) the slot at `at`."""

    at: datetime
    status: str  # fired | skipped
    reason: str | None = None

    @property
    def key(self) -> str:
        """The slot as stored: UTC ISO 8601 (text order is time order)."""
        return slot_key(self.at)


def slot_key(at: datetime) -> str:
    """How a slot time is stored and shown."""
    return at.astimezone(UTC).isoformat(timespec="seconds")


def parse_slot(key: str) -> datetime:
    """A stored slot (or `created_at`) back to an aware UTC datetime."""
    return datetime.fromisoformat(key.replace("Z", "+00:00")).astimezone(UTC)


def validate(schedule: Schedule) -> None:
    """ConfigError naming the field when the schedule cannot work."""
    if (schedule.cron is None) == (schedule.every is None):
        raise ConfigError("give exactly one of cron (an expression) or every (seconds)")
    if schedule.every is not None and not MIN_EVERY <= schedule.every <= MAX_DURATION:
        raise ConfigError(
            f"every: must be between {MIN_EVERY:g} second and 100 years "
            f"({MAX_DURATION:g} seconds), got {schedule.every}"
        )
    if schedule.cron is not None:
        fields = len(schedule.cron.split())
        if fields not in (5, 6) or not croniter.is_valid(
            schedule.cron, second_at_beginning=fields == 6
        ):
            raise ConfigError(
                f"cron: {schedule.cron!r} is not a cron expression of 5 fields "
                "(minute hour day month weekday) or 6 (seconds first)"
            )
    zone(schedule)
    if schedule.misfire not in MISFIRE_POLICIES:
        raise ConfigError(
            f"misfire: {schedule.misfire!r} is not one of {', '.join(MISFIRE_POLICIES)}"
        )
    if schedule.overlap not in OVERLAP_POLICIES:
        raise ConfigError(
            f"overlap: {schedule.overlap!r} is not one of {', '.join(OVERLAP_POLICIES)}"
        )
    if schedule.catch_up_limit < 1:
        raise ConfigError(f"catch_up_limit: must be at least 1, got {schedule.catch_up_limit}")
    problem = unstorable(schedule.payload, "payload")
    if problem is not None:  # every slot's start would refuse it
        raise ConfigError(problem)


def zone(schedule: Schedule) -> ZoneInfo:
    """The schedule's time zone; ConfigError for an unknown name."""
    try:
        return ZoneInfo(schedule.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"timezone: unknown time zone {schedule.timezone!r}") from None


def next_fire(schedule: Schedule, after: datetime) -> datetime:
    """The first fire time strictly after `after`."""
    if schedule.every is not None:
        origin = parse_slot(schedule.created_at)
        k = max(0, math.floor((after - origin).total_seconds() / schedule.every) + 1)
        return origin + timedelta(seconds=k * schedule.every)
    at: datetime = _cron(schedule, after).get_next(datetime)
    return at.astimezone(UTC)


@dataclass(frozen=True)
class Fires:
    """The latest fire times of a span (oldest first), and what is left out before them."""

    times: list[datetime]
    left_out: int = 0  # earlier fire times of the span
    latest_left_out: datetime | None = None


def latest_fires(schedule: Schedule, after: datetime, until: datetime, n: int) -> Fires:
    """Up to `n` of the latest fire times in (after, until]."""
    if schedule.every is not None:
        origin = parse_slot(schedule.created_at)
        every = timedelta(seconds=schedule.every)
        first = max(0, math.floor((after - origin) / every) + 1)
        last = math.floor((until - origin) / every)
        if last < first:
            return Fires([])
        start = max(first, last - n + 1)
        times = [origin + k * every for k in range(start, last + 1)]
        left_out = start - first
        return Fires(times, left_out, origin + (start - 1) * every if left_out else None)
    backwards = _cron(schedule, until + timedelta(microseconds=1))
    found: list[datetime] = []
    while len(found) <= n:  # one more than asked: is anything left out?
        at: datetime = backwards.get_prev(datetime)
        if at <= after:
            break
        found.append(at.astimezone(UTC))
    if len(found) <= n:
        return Fires(sorted(found))
    left_out = 1  # the one found beyond n; the rest are counted (up to 10,000), not kept
    while backwards.get_prev(datetime) > after and left_out < 10_000:
        left_out += 1
    return Fires(sorted(found[:n]), left_out, found[n])


def due(schedule: Schedule, last: datetime | None, now: datetime) -> list[SlotDecision]:
    """What to record now: the slots to fire and at most one skipped slot (see module doc)."""
    after = last if last is not None else parse_slot(schedule.created_at)
    limit = schedule.catch_up_limit if schedule.misfire == "catch_up" else 1
    fires = latest_fires(schedule, after, now, limit)
    if not fires.times:
        return []
    latest = fires.times[-1]
    if schedule.misfire == "skip" and now - latest > GRACE:
        missed = fires.left_out + len(fires.times)
        return [SlotDecision(latest, SKIPPED, f"misfire: {missed} slot(s) missed, policy skip")]
    decisions = [SlotDecision(at, FIRED) for at in fires.times]
    if fires.latest_left_out is not None:
        reason = f"misfire: {fires.left_out} earlier slot(s) not run, policy {schedule.misfire}"
        decisions.insert(0, SlotDecision(fires.latest_left_out, SKIPPED, reason))
    return decisions


def _cron(schedule: Schedule, start: datetime) -> croniter:
    assert schedule.cron is not None
    fields = len(schedule.cron.split())
    local = start.astimezone(zone(schedule))
    return croniter(schedule.cron, local, second_at_beginning=fields == 6)
