"""Routes, one module per resource. Each handler validates, calls the runtime, shapes the answer."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Request, Response

if TYPE_CHECKING:
    from noetl.observe.metrics import Metrics
    from noetl.runtime.assemble import ServerRuntime


# Dependencies are `async def` on purpose: FastAPI runs a plain `def` dependency in a worker
# thread, a thread hop on every request (it showed up as several % of the server's CPU).
async def _runtime(request: Request) -> ServerRuntime:
    runtime: ServerRuntime = request.app.state.runtime
    return runtime


async def _metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


RuntimeDep = Annotated["ServerRuntime", Depends(_runtime)]
MetricsDep = Annotated["Metrics", Depends(_metrics)]


def json_response(content: Any, status_code: int = 200) -> Response:
    """JSON of values pydantic does not know (results may hold dates, decimals, tuples...)."""
    body = json.dumps(content, separators=(",", ":"), default=_fallback)
    return Response(body, status_code, media_type="application/json")


def _fallback(value: Any) -> Any:
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)
