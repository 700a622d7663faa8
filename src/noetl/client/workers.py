"""The server's worker registry over its REST API: where distributed workers send heartbeats,
and what `noetl workers list --server` reads."""

from __future__ import annotations

import builtins
from urllib.parse import quote

from noetl.client.transport import ServerClient
from noetl.store.workers import WorkerBeat, WorkerStatus


class RemoteWorkerRegistry:
    """The worker registry port, served by a NoETL server through `client`."""

    def __init__(self, client: ServerClient) -> None:
        self.client = client

    async def beat(self, beat: WorkerBeat) -> None:
        """Send one heartbeat (one try: the next beat is the retry)."""
        body = {
            "pool": beat.pool,
            "slots": beat.slots,
            "busy": beat.busy,
            "running": list(beat.running),
            "version": beat.version,
            "started_at": beat.started_at,
            "lost_after": beat.lost_after,
        }
        await self.client.call("PUT", _path(beat.worker_id), body=body)

    async def leave(self, worker_id: str) -> None:
        """Leave the registry."""
        await self.client.call("DELETE", _path(worker_id))

    async def list(self) -> builtins.list[WorkerStatus]:
        """The server's registered workers."""
        answer = await self.client.call("GET", "/workers")
        return [status_from_dict(row) for row in answer["workers"]]

    async def close(self) -> None:
        """The client belongs to whoever made it: nothing to release here."""


def status_from_dict(row: dict[str, object]) -> WorkerStatus:
    """A `WorkerStatus` from its `GET /workers` form."""
    running = row.get("running") or []
    assert isinstance(running, builtins.list)
    beat = WorkerBeat(
        str(row["worker_id"]),
        str(row["pool"]),
        int(str(row["slots"])),
        int(str(row["busy"])),
        tuple(str(c) for c in running),
        str(row["version"]),
        str(row["started_at"]),
        0.0,  # the server judges liveness; the timeout is not part of the listing
    )
    return WorkerStatus(beat, str(row["last_heartbeat"]), str(row["status"]))


def _path(worker_id: str) -> str:
    return f"/workers/{quote(worker_id, safe='')}"
