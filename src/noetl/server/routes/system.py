"""Health and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST

from noetl import __version__
from noetl.server.routes import MetricsDep, StrictJsonRoute
from noetl.server.schemas import Health

router = APIRouter(route_class=StrictJsonRoute, tags=["system"])


@router.get("/health")
async def health() -> Health:
    """The server is up and its control plane is open (the app only serves once it is)."""
    return Health(status="ok", version=__version__)


@router.get("/metrics", include_in_schema=False)
async def metrics(registry: MetricsDep) -> Response:
    """Prometheus text format."""
    return Response(registry.render(), media_type=CONTENT_TYPE_LATEST)
