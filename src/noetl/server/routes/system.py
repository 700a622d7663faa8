"""Liveness (`/health`), readiness (`/ready`) and Prometheus metrics."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST

from noetl import __version__
from noetl.errors import NoetlError
from noetl.runtime.readiness import check_readiness
from noetl.server.routes import MetricsDep, RuntimeDep, StrictJsonRoute
from noetl.server.schemas import DependencyBody, Health, Readiness

log = logging.getLogger(__name__)
router = APIRouter(route_class=StrictJsonRoute, tags=["system"])


@router.get("/health")
async def health() -> Health:
    """The server is up and its control plane is open (the app only serves once it is)."""
    return Health(status="ok", version=__version__)


@router.get(
    "/ready",
    responses={503: {"model": Readiness, "description": "A dependency is down (named)."}},
)
async def ready(runtime: RuntimeDep, response: Response) -> Readiness:
    """Readiness: 200 when the event store and the bus each answer within 2 s, else 503
    naming which is down and why. Open without a token, like `/health` (probes send none)."""
    states = await check_readiness(runtime.store, runtime.bus)
    down = [state for state in states if not state.up]
    checks = {
        state.name: DependencyBody(status="up" if state.up else "down", reason=state.reason)
        for state in states
    }
    if not down:
        return Readiness(status="ready", version=__version__, checks=checks)
    response.status_code = 503
    detail = "; ".join(f"{state.name.replace('_', ' ')} is down: {state.reason}" for state in down)
    return Readiness(status="unready", version=__version__, checks=checks, detail=detail)


@router.get("/metrics", include_in_schema=False)
async def metrics(registry: MetricsDep, runtime: RuntimeDep) -> Response:
    """Prometheus text format; the gauges of the present are read now."""
    try:
        backlog = await runtime.bus.backlog()
    except NoetlError as exc:  # the other metrics are still worth a scrape
        log.warning("could not read the bus backlog for /metrics: %s", exc)
        backlog = {}
    registry.refresh(runtime.control.queue_depth(), runtime.control.running(), backlog)
    return Response(registry.render(), media_type=CONTENT_TYPE_LATEST)
