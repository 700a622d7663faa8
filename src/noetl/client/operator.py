"""The calls of people and their tools to a NoETL server's REST API, not of workers.

The CLI's `--server` commands and the Python API (`noetl.api.remote`) register playbooks, read
executions and their events, retry and cancel them, and manage schedules, hooks and retention.
`ServerClient` (`transport.py`) has these calls with the workers' own (claims, reports, leases,
results, child executions), which stay next to the connection they run on every step.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any


class OperatorCalls:
    """The REST calls a person's tools make, over `call` (`ServerClient` has them)."""

    async def call(
        self, method: str, path: str, *, body: Any = None, params: Mapping[str, Any] | None = None
    ) -> Any:
        """One API request; the decoded JSON answer (`ServerClient.call` makes it)."""
        raise NotImplementedError

    async def health(self) -> dict[str, Any]:
        """GET /health."""
        result: dict[str, Any] = await self.call("GET", "/health")
        return result

    async def register(self, content: str, *, path: str | None = None) -> dict[str, Any]:
        """Register a playbook in the catalog; the entry (`created` false when unchanged)."""
        body = {"content": content} if path is None else {"content": content, "path": path}
        result: dict[str, Any] = await self.call("POST", "/catalog", body=body)
        return result

    async def retry(self, execution_id: str, **body: Any) -> str:
        """Retry a failed execution (`from_step`, `version` or `playbook`, `payload`); the id
        of the new execution."""
        given = {k: v for k, v in body.items() if v is not None}
        path = f"/executions/{execution_id}/retry"
        return str((await self.call("POST", path, body=given))["execution_id"])

    async def add_schedule(self, **schedule: Any) -> dict[str, Any]:
        """Add a schedule (the fields of `noetl.store.schedules.Schedule`); as the server shows
        it, with its next fire times."""
        given = {k: v for k, v in schedule.items() if v is not None and k != "created_at"}
        result: dict[str, Any] = await self.call("POST", "/schedules", body=given)
        return result

    async def schedules(self) -> list[dict[str, Any]]:
        """Every schedule with its next fire times."""
        return list((await self.call("GET", "/schedules"))["schedules"])

    async def schedule(self, name: str) -> dict[str, Any]:
        """One schedule with its next fire times and latest slots."""
        result: dict[str, Any] = await self.call("GET", f"/schedules/{name}")
        return result

    async def pause_schedule(self, name: str, paused: bool = True) -> dict[str, Any]:
        """Pause (or, with `paused=False`, resume) a schedule."""
        action = "pause" if paused else "resume"
        result: dict[str, Any] = await self.call("POST", f"/schedules/{name}/{action}")
        return result

    async def delete_schedule(self, name: str) -> None:
        """Remove a schedule."""
        await self.call("DELETE", f"/schedules/{name}")

    async def add_hook(self, name: str, path: str, version: int | None = None) -> dict[str, Any]:
        """Make a webhook; the answer holds its secret (the only time it is shown)."""
        body = {"name": name, "path": path, "version": version}
        result: dict[str, Any] = await self.call("POST", "/hooks", body=body)
        return result

    async def hooks(self) -> list[dict[str, Any]]:
        """Every webhook (never their secrets)."""
        return list((await self.call("GET", "/hooks"))["hooks"])

    async def delete_hook(self, name: str) -> None:
        """Remove a webhook."""
        await self.call("DELETE", f"/hooks/{name}")

    async def prune(
        self, older_than: str, *, status: str = "all", dry_run: bool = False
    ) -> dict[str, Any]:
        """Remove (or count) executions that ended longer ago than `older_than` (`30d`)."""
        body = {"older_than": older_than, "status": status, "dry_run": dry_run}
        result: dict[str, Any] = await self.call("POST", "/prune", body=body)
        return result

    async def execution(self, execution_id: str) -> dict[str, Any]:
        """One execution's summary."""
        result: dict[str, Any] = await self.call("GET", f"/executions/{execution_id}")
        return result

    async def executions(
        self, *, status: str | None = None, limit: int = 50, offset: int = 0
    ) -> list[dict[str, Any]]:
        """Executions, newest first."""
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if status is not None:
            params["status"] = status
        answer = await self.call("GET", "/executions", params=params)
        return list(answer["executions"])

    async def events(
        self,
        execution_id: str,
        *,
        after_seq: int = 0,
        limit: int | None = None,
        types: Collection[str] | None = None,
        step: str | None = None,
        iterations: bool = True,
        newest_first: bool = False,
        page: int = 1000,
    ) -> list[dict[str, Any]]:
        """The events of an execution after `after_seq`, in order (fetched page by page), the
        first `limit` when given; of `types` and `step` only, when given; none of a loop
        iteration's without `iterations`. `newest_first`: the last `limit` (at most `page`)
        in one request, newest first."""
        narrowed: dict[str, Any] = {} if iterations else {"iterations": "false"}
        if types is not None:
            narrowed["type"] = list(types)
        if step is not None:
            narrowed["step"] = step
        if newest_first:
            if limit is None or limit > page:
                raise ValueError(f"a newest-first read takes a limit of at most {page}")
            params = {"after_seq": after_seq, "limit": limit, "order": "newest", **narrowed}
            answer = await self.call("GET", f"/executions/{execution_id}/events", params=params)
            return list(answer["events"])
        found: list[dict[str, Any]] = []
        while limit is None or len(found) < limit:
            size = page if limit is None else min(page, limit - len(found))
            params = {"after_seq": found[-1]["seq"] if found else after_seq, "limit": size}
            answer = await self.call(
                "GET", f"/executions/{execution_id}/events", params={**params, **narrowed}
            )
            found.extend(answer["events"])
            if len(answer["events"]) < size:
                break
        return found

    async def cancel(self, execution_id: str) -> dict[str, Any]:
        """Ask a running execution to stop."""
        result: dict[str, Any] = await self.call("POST", f"/executions/{execution_id}/cancel")
        return result
