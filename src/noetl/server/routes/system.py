"""Health and Prometheus metrics."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST

from noetl import __version__
from noetl.errors import NoetlError
from noetl.server.routes import MetricsDep, RuntimeDep, StrictJsonRoute
from noetl.server.schemas import Health

log = logging.getLogger(__name__)
router = APIRouter(route_class=StrictJsonRoute, tags=["system"])


@router.get("/health")
async def health() -> Health:
    """The server is up and its control plane is open (the app only serves once it is)."""
    return Health(status="ok", version=__version__)


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
