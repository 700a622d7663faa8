"""Routes, one module per resource. Each handler validates, calls the runtime, shapes the answer."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.routing import APIRoute

from noetl.dsl.load import load_playbook
from noetl.engine.definition import PlaybookDef
from noetl.errors import PlaybookError, Problem

if TYPE_CHECKING:
    from noetl.observe.metrics import Metrics
    from noetl.runtime.assembled import ServerRuntime


# Bounds of numbers that reach the database (INTEGER and BIGINT columns): larger ones are 422.
MAX_INT32 = 2**31 - 1
MAX_INT64 = 2**63 - 1


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


async def load_off_loop(source: str, file: str | None, seconds: float) -> PlaybookDef:
    """`load_playbook` in a worker thread, so a big or hostile document never blocks the event
    loop (other requests, the control plane), given at most `seconds` (PlaybookError past it;
    the thread finishes on its own, bounded by the YAML size limits)."""
    try:
        return await asyncio.wait_for(asyncio.to_thread(load_playbook, source, file=file), seconds)
    except TimeoutError:
        problem = Problem(f"the playbook took longer than {seconds:g} s to load", file=file)
        raise PlaybookError([problem]) from None


def json_response(content: Any, status_code: int = 200) -> Response:
    """JSON of values pydantic does not know (results may hold dates, decimals, tuples...)."""
    return Response(_ENCODER.encode(content), status_code, media_type="application/json")


def _fallback(value: Any) -> Any:
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


# One encoder and one strict decoder for every request: `json.dumps` and `json.loads` with
# options build a new one per call (a tenth of a worker request's time on the lean lane).
_ENCODER = json.JSONEncoder(separators=(",", ":"), default=_fallback)


class StrictJsonRequest(Request):
    """A request whose JSON body must be strict JSON: `NaN`, `Infinity` and `-Infinity` (which
    Python's decoder takes by default) are refused, as PostgreSQL and every other client would
    refuse them later."""

    async def json(self) -> Any:
        """The body as strict JSON (json.JSONDecodeError, which FastAPI answers with 422)."""
        if not hasattr(self, "_json"):
            self._json = strict_json(await self.body())
        return self._json


def strict_json(body: bytes) -> Any:
    """`body` decoded as strict JSON: `NaN` and `(-)Infinity` are refused (JSONDecodeError);
    UnicodeDecodeError when it is not text (read as `json.loads` reads bytes). A document
    nested deeper than the decoder's recursion allows is a JSONDecodeError too (a 422 naming
    the body, not a 500 from the RecursionError)."""
    text = body.decode(json.detect_encoding(body), "surrogatepass")
    try:
        return _STRICT_DECODER.decode(text)
    except RecursionError:
        raise json.JSONDecodeError("the JSON document is nested too deeply", "", 0) from None


def _refuse_constant(name: str) -> Any:
    raise json.JSONDecodeError(f"{name} is not a JSON number", name, 0)


_STRICT_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)


class StrictJsonRoute(APIRoute):
    """The route class of every router: bodies are decoded as strict JSON (a 422 otherwise)."""

    def get_route_handler(self) -> Any:
        """FastAPI's handler, given a `StrictJsonRequest` instead of the request."""
        handle = super().get_route_handler()

        async def strict(request: Request) -> Response:
            response: Response = await handle(StrictJsonRequest(request.scope, request.receive))
            return response

        return strict
