"""The read side of an event store, served by a NoETL server (the CLI's `--server` commands)."""

from __future__ import annotations

from collections.abc import Collection

from noetl.client.transport import ServerClient
from noetl.engine.events import Event
from noetl.store.port import ExecutionSummary


class RemoteEventLog:
    """The read side of the event store, served by a server (the CLI's `--server` commands)."""

    def __init__(self, client: ServerClient) -> None:
        self.client = client

    async def list_executions(
        self, *, status: str | None = None, limit: int = 50, offset: int = 0
    ) -> list[ExecutionSummary]:
        """Executions, newest started first."""
        rows = await self.client.executions(status=status, limit=limit, offset=offset)
        return [ExecutionSummary(**row) for row in rows]

    async def get_execution(self, execution_id: str) -> ExecutionSummary:
        """One execution's summary; NotFoundError when unknown."""
        return ExecutionSummary(**await self.client.execution(execution_id))

    async def read(
        self,
        execution_id: str,
        *,
        after_seq: int = 0,
        limit: int | None = None,
        types: Collection[str] | None = None,
        step: str | None = None,
        iterations: bool = True,
        newest_first: bool = False,
    ) -> list[Event]:
        """The execution's events as in the store port (`after_seq`, `limit`, `types`,
        `step`, `iterations`, `newest_first`); the server filters them, and no more than
        `limit` are fetched."""
        rows = await self.client.events(
            execution_id,
            after_seq=after_seq,
            limit=limit,
            types=types,
            step=step,
            iterations=iterations,
            newest_first=newest_first,
        )
        return [Event.from_dict(e) for e in rows]
