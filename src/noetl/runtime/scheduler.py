"""The scheduler: fires due schedule slots as executions, once per slot across replicas.

Every `tick` seconds it looks at each schedule that is not paused, asks `slots.due` what to
record since the last slot handled, and records each slot in the schedule store before acting
on it: the store lets one writer own a slot, so when several servers share a database each slot
starts one execution (a server that stops between recording a slot and starting its execution
loses that one run: at most once, never twice). The overlap policy is applied at fire time:
`allow` starts regardless, `skip` records the slot as skipped while the schedule's last
execution runs, `cancel` cancels that execution and starts the new one. Each execution records
its schedule and slot in `playbook.started` (`trigger`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from noetl.dsl.load import load_playbook
from noetl.engine.decide import cancel_event
from noetl.engine.definition import PlaybookDef
from noetl.errors import ConfigError, NoetlError, NotFoundError
from noetl.runtime.control import ControlPlane
from noetl.runtime.slots import SlotDecision, due, next_fire, parse_slot, slot_key, validate
from noetl.store.port import RUNNING, EventStore
from noetl.store.schedules import FIRED, SKIPPED, Schedule, ScheduleStore

log = logging.getLogger(__name__)
TICK = 0.25  # seconds between looks at the schedules
Clock = Callable[[], datetime]
Fired = Callable[[str, str, str], None]  # schedule, slot, execution id


def utc_clock() -> datetime:
    """The real clock (tests pass their own)."""
    return datetime.now(UTC)


class Scheduler:
    """Fires the schedules of `schedules` through `control` (see the module doc)."""

    def __init__(
        self,
        schedules: ScheduleStore,
        catalog: Any,  # noetl.store.catalog.CatalogStore
        control: ControlPlane,
        store: EventStore,
        *,
        clock: Clock = utc_clock,
        tick: float = TICK,
        on_fire: Fired | None = None,
    ) -> None:
        self.schedules = schedules
        self.catalog = catalog
        self.control = control
        self.store = store
        self.clock = clock
        self.tick = tick
        self.on_fire = on_fire
        self._task: asyncio.Task[None] | None = None
        # Nothing of a schedule can be due before its next fire time: its slots are not read
        # until then (keyed by name and creation, so a schedule made again starts afresh).
        self._not_before: dict[tuple[str, str], datetime] = {}

    def start(self) -> None:
        """Run `run_forever` as a task of the running loop."""
        self._task = asyncio.get_running_loop().create_task(self.run_forever())

    async def stop(self) -> None:
        """Stop the task started by `start`."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def run_forever(self) -> None:
        """Look at the schedules every `tick` seconds until cancelled; errors are logged."""
        while True:
            try:
                await self.run_due()
            except NoetlError as exc:  # the database went away, say: try again next tick
                log.warning("scheduler: %s", exc)
            await asyncio.sleep(self.tick)

    async def run_due(self) -> list[tuple[str, SlotDecision]]:
        """Handle what is due now; the slots this scheduler recorded."""
        now = self.clock()
        handled = []
        for schedule in await self.schedules.list():
            key = (schedule.name, schedule.created_at)
            if schedule.paused or now < self._not_before.get(key, now):
                continue
            recent = await self.schedules.slots(schedule.name, 1)
            last = parse_slot(recent[0].slot) if recent else None
            for decision in due(schedule, last, now):
                recorded = await self._handle(schedule, decision)
                if recorded is not None:
                    handled.append((schedule.name, recorded))
            self._not_before[key] = next_fire(schedule, now)
        return handled

    async def _handle(self, schedule: Schedule, decision: SlotDecision) -> SlotDecision | None:
        """Record the slot (None when another scheduler owns it) and act on it; what was
        recorded (a slot to fire may be skipped: overlap, or a playbook that cannot load)."""
        status, reason = decision.status, decision.reason
        playbook: tuple[PlaybookDef, str] | None = None
        running = None
        if status == FIRED:
            try:
                playbook = await self._playbook(schedule)
            except NoetlError as exc:
                status, reason = SKIPPED, str(exc)
            running = await self._running(schedule)
            if running is not None and schedule.overlap == "skip":
                status, reason = SKIPPED, f"overlap: execution {running} still runs"
        if not await self.schedules.claim_slot(schedule.name, decision.key, status, reason):
            return None
        if status == FIRED and playbook is not None:
            if running is not None and schedule.overlap == "cancel":
                why = f"cancelled by schedule {schedule.name!r}: slot {decision.key} started"
                await self.control.submit([cancel_event(running, why)])
            definition, source = playbook
            trigger = {"schedule": schedule.name, "slot": decision.key}
            execution_id = await self.control.start(
                definition, schedule.payload, source=source, trigger=trigger
            )
            await self.schedules.set_slot_execution(schedule.name, decision.key, execution_id)
            if self.on_fire is not None:
                self.on_fire(schedule.name, decision.key, execution_id)
        return replace(decision, status=status, reason=reason)

    async def _playbook(self, schedule: Schedule) -> tuple[PlaybookDef, str]:
        entry = await self.catalog.get(schedule.path, schedule.version)
        label = f"{entry.path}@v{entry.version}"
        return load_playbook(entry.source, file=label), entry.source

    async def _running(self, schedule: Schedule) -> str | None:
        """The schedule's last execution when it still runs."""
        execution_id = await self.schedules.latest_execution(schedule.name)
        if execution_id is None:
            return None
        try:
            summary = await self.store.get_execution(execution_id)
        except NotFoundError:
            return None
        return execution_id if summary.status == RUNNING else None


async def add_schedule(schedules: ScheduleStore, catalog: Any, schedule: Schedule) -> Schedule:
    """Check a new schedule (its fields, and that the catalog holds its playbook) and store it.
    ConfigError names a bad field; ConflictError a taken name."""
    validate(schedule)
    try:
        await catalog.get(schedule.path, schedule.version)
    except NotFoundError as exc:
        raise ConfigError(f"path: {exc}") from None
    return await schedules.add(schedule)


async def describe(
    schedules: ScheduleStore,
    schedule: Schedule,
    now: datetime,
    *,
    upcoming: int = 3,
    recent: int = 0,
) -> dict[str, Any]:
    """A schedule as the CLI and the API show it: its fields, its next fire times (after the
    last slot handled and now) and, with `recent`, its latest slots."""
    handled = await schedules.slots(schedule.name, max(1, recent))
    after = max(now, parse_slot(handled[0].slot)) if handled else now
    times = []
    for _ in range(upcoming):
        after = next_fire(schedule, after)
        times.append(slot_key(after))
    shown = schedule.to_dict()
    shown["next_fire_times"] = [] if schedule.paused else times
    if recent:
        shown["recent_slots"] = [slot.to_dict() for slot in handled[:recent]]
    return shown
