"""/catalog: register playbooks (versioned by content) and read them back."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from noetl.server.routes import (
    MAX_INT32,
    MAX_INT64,
    RuntimeDep,
    StrictJsonRoute,
    load_off_loop,
)
from noetl.server.schemas import CatalogEntryOut, RegisterPlaybook
from noetl.store.catalog import MAX_PAGE, register_declared

router = APIRouter(route_class=StrictJsonRoute, prefix="/catalog", tags=["catalog"])


@router.post(
    "",
    status_code=201,
    responses={200: {"description": "identical content: the version already registered"}},
)
async def register(
    body: RegisterPlaybook, runtime: RuntimeDep, response: Response
) -> CatalogEntryOut:
    """Register a playbook under `path` (default: its `metadata.path`, else its name); changed
    content gets the next version (201), identical content returns the latest (200,
    `created: false`)."""
    seconds = runtime.settings.parse_timeout
    playbook = await load_off_loop(body.content, None, seconds)  # PlaybookError -> 422
    path = body.path or playbook.path or playbook.name
    entry, created = await register_declared(
        runtime.catalog, path, playbook.name, body.content, playbook.version
    )  # a metadata.version the catalog would not give this content -> 409
    if not created:
        response.status_code = 200
    return _out(entry, created=created)


@router.get("")
async def list_catalog(
    runtime: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="At most this many.")] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_INT64, description="After skipping these.")] = 0,
) -> list[CatalogEntryOut]:
    """The latest version of every registered path, by path: a page of `limit` from `offset`
    (a page shorter than `limit` is the last)."""
    return [_out(entry) for entry in await runtime.catalog.list(limit=limit, offset=offset)]


@router.get("/{path:path}")
async def get_entry(
    path: str,
    runtime: RuntimeDep,
    version: Annotated[
        int | None, Query(ge=1, le=MAX_INT32, description="Default: the latest.")
    ] = None,
) -> CatalogEntryOut:
    """One version of a registered playbook, with its YAML (404 when unknown)."""
    entry = await runtime.catalog.get(path, version)
    return _out(entry, content=entry.source)


def _out(entry: Any, **extra: Any) -> CatalogEntryOut:
    return CatalogEntryOut(
        path=entry.path,
        version=entry.version,
        name=entry.name,
        sha256=entry.sha256,
        created_at=str(entry.created_at),
        **extra,
    )
