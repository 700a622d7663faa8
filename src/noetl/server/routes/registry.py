"""The worker registry: workers announce themselves with heartbeats; people and the UI list them.

Workers open no port: they reach the registry through these routes, which write to the server's
store, so every replica lists the same workers.
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from noetl.server.routes import MetricsDep, RuntimeDep, StrictJsonRoute, json_response
from noetl.server.schemas import WorkerHeartbeat, WorkerList
from noetl.store.workers import WorkerBeat

router = APIRouter(route_class=StrictJsonRoute, tags=["workers"])


@router.get("/workers", response_model=WorkerList)
async def list_workers(runtime: RuntimeDep) -> Response:
    """Every registered worker, `alive` or `lost` (silent past its heartbeat timeout)."""
    workers = await runtime.registry.list()
    return json_response({"workers": [w.to_dict() for w in workers]})


@router.put("/workers/{worker_id}", status_code=204)
async def heartbeat(
    worker_id: str, body: WorkerHeartbeat, runtime: RuntimeDep, metrics: MetricsDep
) -> Response:
    """Record a worker's heartbeat (the first one registers it)."""
    beat = WorkerBeat(
        worker_id,
        body.pool,
        body.slots,
        body.busy,
        tuple(body.running),
        body.version,
        body.started_at,
        body.lost_after,
    )
    await runtime.registry.beat(beat)
    metrics.observe_beat(beat)
    return Response(status_code=204)


@router.delete("/workers/{worker_id}", status_code=204)
async def leave(worker_id: str, runtime: RuntimeDep, metrics: MetricsDep) -> Response:
    """A worker that stops cleanly leaves the registry."""
    await runtime.registry.leave(worker_id)
    metrics.forget_worker(worker_id)
    return Response(status_code=204)
