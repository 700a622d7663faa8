"""The request shapes of the original NoETL v2 seeds, as aliases of the canonical routes:
`POST /execute` (`{path, payload}`) starts an execution like `POST /executions`, and
`POST /engine/register-playbook` (`{playbook_yaml}`) registers like `POST /catalog`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from noetl.server.routes import RuntimeDep
from noetl.server.routes import catalog as catalog_routes
from noetl.server.routes import executions as execution_routes
from noetl.server.schemas import (
    CatalogEntryOut,
    ExecutionStarted,
    RegisterPlaybook,
    StartExecution,
)

router = APIRouter(tags=["seed-compatible"])
_STRICT = ConfigDict(extra="forbid")


class SeedExecute(BaseModel):
    """POST /execute: a catalog path, an optional version, and a payload."""

    model_config = _STRICT
    path: str = Field(min_length=1, description="Catalog path of the playbook.")
    version: int | None = Field(None, ge=1)
    payload: dict[str, Any] = Field(default_factory=dict)


class SeedRegister(BaseModel):
    """POST /engine/register-playbook: the playbook's YAML."""

    model_config = _STRICT
    playbook_yaml: str = Field(min_length=1, description="The playbook YAML.")
    path: str | None = Field(None, min_length=1)


@router.post("/execute", status_code=201)
async def execute(body: SeedExecute, runtime: RuntimeDep) -> ExecutionStarted:
    """Alias of POST /executions with a catalog path."""
    request = StartExecution(
        path=body.path, version=body.version, playbook=None, payload=body.payload, trace=None
    )
    return ExecutionStarted(
        execution_id=await execution_routes.start_execution(request, runtime, None)
    )


@router.post("/engine/register-playbook", status_code=201)
async def register_playbook(
    body: SeedRegister, runtime: RuntimeDep, response: Response
) -> CatalogEntryOut:
    """Alias of POST /catalog (200 when the content was registered already)."""
    request = RegisterPlaybook(content=body.playbook_yaml, path=body.path)
    return await catalog_routes.register(request, runtime, response)
