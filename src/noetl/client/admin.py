"""Hooks and schedules of a server over its REST API: what `noetl hook ... --server` and
`noetl schedule ... --server` manage. `RemoteHooks` and `RemoteSchedules` have the methods of
`noetl.runtime.admin.LocalHooks` and `LocalSchedules`, so the CLI uses either without knowing
which.
"""

from __future__ import annotations

import builtins
from typing import Any

from noetl.client.transport import ServerClient
from noetl.store.schedules import Schedule


class RemoteHooks:
    """The webhooks of a NoETL server, through `client`."""

    def __init__(self, client: ServerClient) -> None:
        self.client = client

    async def add(self, name: str, path: str, version: int | None) -> dict[str, Any]:
        """Make a hook on the server; the answer holds its secret (shown only here)."""
        return await self.client.add_hook(name, path, version)

    async def list(self) -> builtins.list[dict[str, Any]]:
        """Every hook (never their secrets)."""
        return await self.client.hooks()

    async def delete(self, name: str) -> None:
        """Remove a hook; NotFoundError when the server has none by that name."""
        await self.client.delete_hook(name)


class RemoteSchedules:
    """The schedules of a NoETL server, through `client`."""

    def __init__(self, client: ServerClient) -> None:
        self.client = client

    async def add(self, schedule: Schedule) -> dict[str, Any]:
        """Add a schedule on the server (it checks the fields and the catalog)."""
        return await self.client.add_schedule(**schedule.to_dict())

    async def list(self) -> builtins.list[dict[str, Any]]:
        """Every schedule with its next fire times."""
        return await self.client.schedules()

    async def show(self, name: str) -> dict[str, Any]:
        """One schedule with its next fire times and latest slots."""
        return await self.client.schedule(name)

    async def set_paused(self, name: str, paused: bool) -> None:
        """Pause or resume a schedule."""
        await self.client.pause_schedule(name, paused)

    async def delete(self, name: str) -> None:
        """Remove a schedule; NotFoundError when the server has none by that name."""
        await self.client.delete_schedule(name)
