"""Hooks and schedules as a person manages them: `noetl hook ...`, `noetl schedule ...`, the
server's /hooks and /schedules routes, and `noetl.Client`'s methods of the same names.

`HookAdmin` and `ScheduleAdmin` have the names and answers of the server's API, so that the
server's client (`noetl.client.transport.ServerClient`) is one of them as it is: the CLI's
`--server` commands get it from `runtime.assemble.open_stores`, and the CLI never knows which.
`LocalHooks` and `LocalSchedules` are them on a process's own stores: the local database's
for the CLI, the server's for its routes, which is why each answer is the API's.
"""

from __future__ import annotations

from typing import Any, Protocol

from noetl.errors import ConfigError, NotFoundError
from noetl.runtime.scheduler import add_schedule, describe, utc_clock
from noetl.store.catalog import CatalogStore
from noetl.store.hooks import Hook, HookStore, check_hook_name, hash_secret, new_secret
from noetl.store.schedules import Schedule, ScheduleStore


class HookAdmin(Protocol):
    """Webhooks as `noetl hook` manages them."""

    async def add_hook(self, name: str, path: str, version: int | None = None) -> dict[str, Any]:
        """Make a hook for a catalog playbook; the answer holds its secret (shown only here)."""
        ...

    async def hooks(self) -> list[dict[str, Any]]:
        """Every hook (never their secrets)."""
        ...

    async def delete_hook(self, name: str) -> None:
        """Remove a hook; NotFoundError when there is none."""
        ...


class ScheduleAdmin(Protocol):
    """Schedules as `noetl schedule` manages them; each shown with its next fire times."""

    async def add_schedule(self, **schedule: Any) -> dict[str, Any]:
        """Check and store a new schedule, the fields of `noetl.store.schedules.Schedule`
        (ConfigError names a bad field)."""
        ...

    async def schedules(self) -> list[dict[str, Any]]:
        """Every schedule."""
        ...

    async def schedule(self, name: str) -> dict[str, Any]:
        """One schedule with its latest slots."""
        ...

    async def pause_schedule(self, name: str, paused: bool = True) -> dict[str, Any]:
        """Pause (or, with `paused=False`, resume) a schedule."""
        ...

    async def delete_schedule(self, name: str) -> None:
        """Remove a schedule and its slot records; NotFoundError when there is none."""
        ...


class LocalHooks:
    """`HookAdmin` on a hook store and the catalog its playbooks come from."""

    def __init__(self, hooks: HookStore, catalog: CatalogStore) -> None:
        self.store, self.catalog = hooks, catalog

    async def add_hook(self, name: str, path: str, version: int | None = None) -> dict[str, Any]:
        """Make a hook for catalog playbook `path`; the answer holds its secret."""
        check_hook_name(name)
        try:
            await self.catalog.get(path, version)
        except NotFoundError as exc:
            raise ConfigError(f"path: {exc}") from None
        secret = new_secret()
        hook = await self.store.add(Hook(name, path, version, hash_secret(secret)))
        return {**hook.to_dict(), "secret": secret}

    async def hooks(self) -> list[dict[str, Any]]:
        """Every hook (never their secrets)."""
        return [hook.to_dict() for hook in await self.store.list()]

    async def delete_hook(self, name: str) -> None:
        """Remove a hook; NotFoundError when there is none."""
        if not await self.store.delete(name):
            raise NotFoundError(f"hook {name!r} not found")


class LocalSchedules:
    """`ScheduleAdmin` on a schedule store and the catalog its playbooks come from."""

    def __init__(self, schedules: ScheduleStore, catalog: CatalogStore) -> None:
        self.store, self.catalog = schedules, catalog

    async def add_schedule(self, **schedule: Any) -> dict[str, Any]:
        """Check and store a new schedule; shown with its next fire times."""
        added = await add_schedule(self.store, self.catalog, Schedule(**schedule))
        return await describe(self.store, added, utc_clock())

    async def schedules(self) -> list[dict[str, Any]]:
        """Every schedule with its next fire times."""
        now = utc_clock()
        return [await describe(self.store, s, now) for s in await self.store.list()]

    async def schedule(self, name: str) -> dict[str, Any]:
        """One schedule with its next fire times and its latest 20 slots."""
        return await describe(self.store, await self.store.get(name), utc_clock(), recent=20)

    async def pause_schedule(self, name: str, paused: bool = True) -> dict[str, Any]:
        """Pause or resume a schedule; shown with its next fire times."""
        return await describe(self.store, await self.store.set_paused(name, paused), utc_clock())

    async def delete_schedule(self, name: str) -> None:
        """Remove a schedule and its slot records; NotFoundError when there is none."""
        if not await self.store.delete(name):
            raise NotFoundError(f"schedule {name!r} not found")
