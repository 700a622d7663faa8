"""The lean lane: the routes every step of a distributed execution calls, served without FastAPI.

A worker makes one or two requests per step it runs (its report, its claims, lease renewals).
Through FastAPI's middleware, routing and dependency solving such a request cost the server
about 250 us of CPU before its handler ran; this lane costs about 30 us: it matches the path,
decodes the body once (strict JSON), validates it with the route's pydantic model and calls the
handler. It sits inside `Guard` (token, body limits, latency metric) and answers errors with the
same bodies as the rest of the API (`noetl.server.errors`): 422 naming the field (a header as
`header.<name>`), 404, 409, 503. The routes stay documented in the OpenAPI schema
(`document`), from the same models. Starting an execution (`POST /executions`, one per
execution: a fifth of the requests of a 5-step run) is served here too.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from noetl.server import errors
from noetl.server.routes import strict_json

if TYPE_CHECKING:
    from noetl.observe.metrics import Metrics
    from noetl.runtime.assembled import ServerRuntime


@dataclass(frozen=True)
class LaneCall:
    """One request on the lane: its validated body, path parameters, validated headers (those
    its route declares, by name; absent ones are not there), and the server's parts."""

    body: Any
    params: dict[str, str]
    runtime: ServerRuntime
    metrics: Metrics
    headers: dict[str, Any] = field(default_factory=dict)


Handler = Callable[[LaneCall], Awaitable[Response]]


@dataclass(frozen=True)
class LaneHeader:
    """An optional request header a lane route reads: its name, the type its value must have
    (422 naming `header.<name>` otherwise) and what it means (for the OpenAPI schema)."""

    name: str
    kind: Any  # a type pydantic validates, with its constraints (`Annotated[str, ...]`)
    description: str
    adapter: TypeAdapter[Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "adapter", TypeAdapter(self.kind))


@dataclass(frozen=True)
class LaneRoute:
    """A POST route of the lane: `path` below the API prefix (`{name}` for a path segment),
    the model its body must be, and the model of its answer (None: 204, no body); the headers
    it reads, its OpenAPI tag and, when it must keep one it had, its operation id."""

    path: str
    handle: Handler
    body: type[BaseModel]
    answer: type[BaseModel] | None = None
    status: int = 200
    headers: tuple[LaneHeader, ...] = ()
    tag: str = "workers"
    operation_id: str = ""
    pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        segment = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.path))
        object.__setattr__(self, "pattern", re.compile(segment))


class Lane:
    """ASGI middleware: POST requests to a lane route are answered here, the rest go on."""

    def __init__(self, app: ASGIApp, *, routes: tuple[LaneRoute, ...], prefix: str) -> None:
        self.app = app
        self.routes = routes
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve a lane route, or pass the request on."""
        path: str = scope.get("path", "")
        if scope["type"] == "http" and scope["method"] == "POST" and path.startswith(self.prefix):
            tail = path[len(self.prefix) :]
            for route in self.routes:
                found = route.pattern.fullmatch(tail)
                if found is not None:
                    scope["route"] = route  # the latency metric's label (`route.path`)
                    response = await _serve(route, found.groupdict(), scope, receive)
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)


async def _serve(
    route: LaneRoute, params: dict[str, str], scope: Scope, receive: Receive
) -> Response:
    """The handler's answer, or the error response of what went wrong (anything unexpected
    propagates, to the app's 500 handler)."""
    if not _json_typed(scope):
        why = "must be JSON (content-type: application/json)"
        return errors.invalid_request([{"field": "body", "message": why}])
    try:
        raw = await _body(receive)  # read before the headers are judged, as FastAPI does
        headers = _headers(route, scope)
        data = strict_json(raw)
        body = route.body.model_validate(data)
        state = scope["app"].state
        return await route.handle(LaneCall(body, params, state.runtime, state.metrics, headers))
    except _HeaderError as exc:
        return errors.invalid_request(exc.fields)
    except json.JSONDecodeError as exc:
        why = f"not valid JSON at offset {exc.pos}: {exc.msg}"
        return errors.invalid_request([{"field": "body", "message": why}])
    except UnicodeDecodeError as exc:
        why = f"not text (UTF-8) at byte {exc.start}: {exc.reason}"
        return errors.invalid_request([{"field": "body", "message": why}])
    except ValidationError as exc:
        return errors.invalid_request([errors.field_error(e) for e in exc.errors()])
    except Exception as exc:
        answer = errors.answer(exc)
        if answer is None:
            raise
        return answer


class _HeaderError(Exception):
    def __init__(self, fields: list[dict[str, str]]) -> None:
        super().__init__("invalid headers")
        self.fields = fields


def _headers(route: LaneRoute, scope: Scope) -> dict[str, Any]:
    """The values of the headers `route` declares that the request sends, validated."""
    if not route.headers:
        return {}
    sent: dict[str, bytes] = {}
    for name, value in scope["headers"]:  # a header sent twice counts once: the first
        sent.setdefault(name.decode("latin-1").lower(), value)
    found: dict[str, Any] = {}
    problems: list[dict[str, str]] = []
    for header in route.headers:
        raw = sent.get(header.name.lower())
        if raw is None:
            continue
        try:
            found[header.name] = header.adapter.validate_python(raw.decode("latin-1"))
        except ValidationError as exc:
            where = f"header.{header.name}"
            problems += [{"field": where, "message": e["msg"]} for e in exc.errors()]
    if problems:
        raise _HeaderError(problems)
    return found


def _json_typed(scope: Scope) -> bool:
    """Whether the body says it is JSON (a body that names no type is read as JSON)."""
    for name, value in scope["headers"]:
        if name == b"content-type":
            return b"json" in value.lower()
    return True


async def _body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def document(openapi: dict[str, Any], routes: tuple[LaneRoute, ...], prefix: str) -> None:
    """Add the lane's routes to an OpenAPI schema (as FastAPI would have documented them)."""
    schemas = openapi.setdefault("components", {}).setdefault("schemas", {})
    for route in routes:
        doc = inspect.getdoc(route.handle) or ""
        answers: dict[str, Any] = {str(route.status): {"description": "Successful Response"}}
        if route.answer is not None:
            content = {"application/json": {"schema": _reference(route.answer, schemas)}}
            answers[str(route.status)]["content"] = content
        answers["422"] = {"description": "Invalid request: the body's problems, by field."}
        body = {"application/json": {"schema": _reference(route.body, schemas)}}
        operation: dict[str, Any] = {
            "tags": [route.tag],
            "summary": doc.split("\n\n")[0].split(". ")[0].rstrip("."),
            "description": doc,
            "operationId": route.operation_id or f"{route.handle.__name__}_lane",
            "requestBody": {"required": True, "content": body},
            "responses": answers,
        }
        parameters = [
            {"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
            for n in route.pattern.groupindex
        ]
        parameters += [_header_parameter(h) for h in route.headers]
        if parameters:
            operation["parameters"] = parameters
        openapi.setdefault("paths", {}).setdefault(prefix + route.path, {})["post"] = operation


def _reference(model: type[BaseModel], schemas: dict[str, Any]) -> dict[str, str]:
    """`model`'s schema into `schemas` (with the models it refers to); a `$ref` to it."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(schema.pop("$defs", {}))
    schemas[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _header_parameter(header: LaneHeader) -> dict[str, Any]:
    schema = {**header.adapter.json_schema(), "description": header.description}
    return {
        "name": header.name,
        "in": "header",
        "required": False,
        "description": header.description,
        "schema": schema,
    }
