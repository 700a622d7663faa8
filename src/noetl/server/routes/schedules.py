"""/schedules: cron and interval schedules of catalog playbooks (fired once per slot by the
replicas' schedulers)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from noetl.runtime.scheduler import add_schedule, describe, utc_clock
from noetl.server.routes import RuntimeDep, json_response
from noetl.server.schemas import ScheduleIn
from noetl.store.schedules import Schedule

router = APIRouter(prefix="/schedules", tags=["schedules"])


@router.post("", status_code=201)
async def add(body: ScheduleIn, runtime: RuntimeDep) -> Response:
    """Add a schedule (409 when the name is taken, 400 naming a bad field or an unknown
    catalog path); the answer shows its next fire times."""
    added = await add_schedule(runtime.schedules, runtime.catalog, Schedule(**body.model_dump()))
    return json_response(await describe(runtime.schedules, added, utc_clock()), 201)


@router.get("")
async def list_schedules(runtime: RuntimeDep) -> Response:
    """Every schedule, by name, with its next fire times."""
    now = utc_clock()
    shown = [await describe(runtime.schedules, s, now) for s in await runtime.schedules.list()]
    return json_response({"schedules": shown})


@router.get("/{name}")
async def show(name: str, runtime: RuntimeDep) -> Response:
    """One schedule with its next fire times and its latest slots (404 when unknown)."""
    return json_response(await _shown(runtime, await runtime.schedules.get(name), recent=20))


@router.post("/{name}/pause")
async def pause(name: str, runtime: RuntimeDep) -> Response:
    """Stop firing it (slots that pass meanwhile are misfires when it resumes)."""
    return json_response(await _shown(runtime, await runtime.schedules.set_paused(name, True)))


@router.post("/{name}/resume")
async def resume(name: str, runtime: RuntimeDep) -> Response:
    """Fire it again."""
    return json_response(await _shown(runtime, await runtime.schedules.set_paused(name, False)))


@router.delete("/{name}", status_code=204)
async def delete(name: str, runtime: RuntimeDep) -> Response:
    """Remove it and its slot records (404 when unknown)."""
    if not await runtime.schedules.delete(name):
        await runtime.schedules.get(name)  # NotFoundError -> 404
    return Response(status_code=204)


async def _shown(runtime: Any, schedule: Schedule, recent: int = 0) -> dict[str, Any]:
    return await describe(runtime.schedules, schedule, utc_clock(), recent=recent)
