"""SQLite hook store: webhooks (secrets stored hashed) in the embedded mode's database."""

from __future__ import annotations

import builtins
import sqlite3

from noetl.errors import ConflictError, NotFoundError, StoreError
from noetl.store.hooks import Hook
from noetl.store.sqlite.connect import SqliteStore
from noetl.store.sqlite.statements import QUERIES
from noetl.store.stamping import utc_now


class SqliteHookStore(SqliteStore):
    """The hook store port on SQLite. Create it with `SqliteHookStore.open(path)`."""

    what = "hook store"

    async def add(self, hook: Hook) -> Hook:
        """Store a new hook; ConflictError when the name is taken."""
        params = (hook.name, hook.path, hook.version, hook.secret_sha256, utc_now())
        try:
            self._connection().execute(QUERIES["hook_insert"], params)
        except sqlite3.IntegrityError:
            raise ConflictError(f"hook {hook.name!r} already exists") from None
        except sqlite3.Error as exc:
            raise StoreError(f"storing hook {hook.name!r} failed: {exc}") from exc
        return await self.get(hook.name)

    async def get(self, name: str) -> Hook:
        """The hook called `name`."""
        rows = self._query(QUERIES["hook_get"], (name,))
        if not rows:
            raise NotFoundError(f"hook {name!r} not found")
        return Hook(*rows[0])

    async def list(self) -> builtins.list[Hook]:
        """Every hook, by name."""
        return [Hook(*row) for row in self._query(QUERIES["hook_list"], ())]

    async def delete(self, name: str) -> bool:
        """Remove a hook."""
        try:
            return self._connection().execute(QUERIES["hook_delete"], (name,)).rowcount > 0
        except sqlite3.Error as exc:
            raise StoreError(f"deleting hook {name!r} failed: {exc}") from exc
