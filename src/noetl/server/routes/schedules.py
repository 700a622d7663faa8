"""/schedules: cron and interval schedules of catalog playbooks (fired once per slot by the
replicas' schedulers), managed by `noetl.runtime.admin.LocalSchedules` as `noetl schedule`
manages those of a local database."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Response

from noetl.runtime.admin import LocalSchedules
from noetl.server.routes import RuntimeDep, json_response
from noetl.server.schemas import ScheduleIn

if TYPE_CHECKING:
    from noetl.runtime.assembled import ServerRuntime

router = APIRouter(prefix="/schedules", tags=["schedules"])


@router.post("", status_code=201)
async def add(body: ScheduleIn, runtime: RuntimeDep) -> Response:
    """Add a schedule (409 when the name is taken, 400 naming a bad field or an unknown
    catalog path); the answer shows its next fire times."""
    return json_response(await _admin(runtime).add_schedule(**body.model_dump()), 201)


@router.get("")
async def list_schedules(runtime: RuntimeDep) -> Response:
    """Every schedule, by name, with its next fire times."""
    return json_response({"schedules": await _admin(runtime).schedules()})


@router.get("/{name}")
async def show(name: str, runtime: RuntimeDep) -> Response:
    """One schedule with its next fire times and its latest slots (404 when unknown)."""
    return json_response(await _admin(runtime).schedule(name))


@router.post("/{name}/pause")
async def pause(name: str, runtime: RuntimeDep) -> Response:
    """Stop firing it (slots that pass meanwhile are misfires when it resumes)."""
    return json_response(await _admin(runtime).pause_schedule(name, True))


@router.post("/{name}/resume")
async def resume(name: str, runtime: RuntimeDep) -> Response:
    """Fire it again."""
    return json_response(await _admin(runtime).pause_schedule(name, False))


@router.delete("/{name}", status_code=204)
async def delete(name: str, runtime: RuntimeDep) -> Response:
    """Remove it and its slot records (404 when unknown)."""
    await _admin(runtime).delete_schedule(name)
    return Response(status_code=204)


def _admin(runtime: ServerRuntime) -> LocalSchedules:
    return LocalSchedules(runtime.schedules, runtime.catalog)
