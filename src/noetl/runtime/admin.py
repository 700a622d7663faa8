"""Hooks and schedules as a person manages them (`noetl hook ...`, `noetl schedule ...`) on this
machine's stores: `LocalHooks` and `LocalSchedules`. `noetl.client.admin` has the same methods
for a server; `runtime.assemble.open_stores` hands out one or the other, so the CLI never knows
which. Each method answers what the server's API answers for the same request.
"""

from __future__ import annotations

import builtins
from typing import Any, Protocol

from noetl.errors import ConfigError, NotFoundError
from noetl.runtime.scheduler import add_schedule, describe, utc_clock
from noetl.store.catalog import CatalogStore
from noetl.store.hooks import Hook, HookStore, check_hook_name, hash_secret, new_secret
from noetl.store.schedules import Schedule, ScheduleStore


class HookAdmin(Protocol):
    """Webhooks as `noetl hook` manages them."""

    async def add(self, name: str, path: str, version: int | None) -> dict[str, Any]:
        """Make a hook for a catalog playbook; the answer holds its secret (shown only here)."""
        ...

    async def list(self) -> builtins.list[dict[str, Any]]:
        """Every hook (never their secrets)."""
        ...

    async def delete(self, name: str) -> None:
        """Remove a hook; NotFoundError when there is none."""
        ...


class ScheduleAdmin(Protocol):
    """Schedules as `noetl schedule` manages them; each shown with its next fire times."""

    async def add(self, schedule: Schedule) -> dict[str, Any]:
        """Check and store a new schedule (ConfigError names a bad field)."""
        ...

    async def list(self) -> builtins.list[dict[str, Any]]:
        """Every schedule."""
        ...

    async def show(self, name: str) -> dict[str, Any]:
        """One schedule with its latest slots."""
        ...

    async def set_paused(self, name: str, paused: bool) -> None:
        """Pause or resume a schedule."""
        ...

    async def delete(self, name: str) -> None:
        """Remove a schedule and its slot records; NotFoundError when there is none."""
        ...


class LocalHooks:
    """`HookAdmin` on a hook store and the catalog its playbooks come from."""

    def __init__(self, hooks: HookStore, catalog: CatalogStore) -> None:
        self.hooks, self.catalog = hooks, catalog

    async def add(self, name: str, path: str, version: int | None) -> dict[str, Any]:
        """Make a hook for catalog playbook `path`; the answer holds its secret."""
        check_hook_name(name)
        try:
            await self.catalog.get(path, version)
        except NotFoundError as exc:
            raise ConfigError(f"path: {exc}") from None
        secret = new_secret()
        hook = await self.hooks.add(Hook(name, path, version, hash_secret(secret)))
        return {**hook.to_dict(), "secret": secret}

    async def list(self) -> builtins.list[dict[str, Any]]:
        """Every hook (never their secrets)."""
        return [hook.to_dict() for hook in await self.hooks.list()]

    async def delete(self, name: str) -> None:
        """Remove a hook; NotFoundError when there is none."""
        if not await self.hooks.delete(name):
            raise NotFoundError(f"hook {name!r} not found")


class LocalSchedules:
    """`ScheduleAdmin` on a schedule store and the catalog its playbooks come from."""

    def __init__(self, schedules: ScheduleStore, catalog: CatalogStore) -> None:
        self.schedules, self.catalog = schedules, catalog

    async def add(self, schedule: Schedule) -> dict[str, Any]:
        """Check and store a new schedule; shown with its next fire times."""
        added = await add_schedule(self.schedules, self.catalog, schedule)
        return await describe(self.schedules, added, utc_clock())

    async def list(self) -> builtins.list[dict[str, Any]]:
        """Every schedule with its next fire times."""
        now = utc_clock()
        return [await describe(self.schedules, s, now) for s in await self.schedules.list()]

    async def show(self, name: str) -> dict[str, Any]:
        """One schedule with its next fire times and its latest 20 slots."""
        schedule = await self.schedules.get(name)
        return await describe(self.schedules, schedule, utc_clock(), recent=20)

    async def set_paused(self, name: str, paused: bool) -> None:
        """Pause or resume a schedule."""
        await self.schedules.set_paused(name, paused)

    async def delete(self, name: str) -> None:
        """Remove a schedule; NotFoundError when there is none."""
        if not await self.schedules.delete(name):
            raise NotFoundError(f"schedule {name!r} not found")
