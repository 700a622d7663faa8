"""What the web UI draws that the log does not say in one read: step progress, playbook checks.

Both are derived, read-only views any API client may use: `GET /executions/{id}/steps` folds
the log (see `noetl.server.progress`), `POST /playbooks/check` validates YAML and lays out its
graph (see `noetl.server.graph`) without storing anything.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from noetl.dsl.load import check_playbook
from noetl.server.graph import playbook_graph
from noetl.server.progress import ProgressCache
from noetl.server.routes import RuntimeDep, json_response
from noetl.server.schemas import CheckPlaybook

router = APIRouter(tags=["views"])


@router.get("/executions/{execution_id}/steps")
async def steps(execution_id: str, request: Request, runtime: RuntimeDep) -> Response:
    """Each step's state, runs (loop counts, retries, times), latest args, result and error."""
    summary = await runtime.store.get_execution(execution_id)  # unknown -> 404
    cache: ProgressCache = request.app.state.progress
    progress = await cache.get(runtime.store, execution_id)
    return json_response({"execution": summary.to_dict(), **progress.to_dict()})


@router.post("/playbooks/check")
async def check(body: CheckPlaybook) -> Response:
    """Validate YAML: `valid`, `problems` (with line and column), and when valid its name,
    path, `workload` and laid-out `graph`. Nothing is stored."""
    playbook, problems = check_playbook(body.content, file=body.file)
    answer: dict[str, Any] = {
        "valid": playbook is not None,
        "problems": [problem.to_dict() for problem in problems],
    }
    if playbook is not None:
        answer.update(
            name=playbook.name,
            path=playbook.path,
            workload=dict(playbook.workload),
            graph=playbook_graph(playbook),
        )
    return json_response(answer)
