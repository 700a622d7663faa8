"""PostgreSQL hook store: webhooks (secrets stored hashed), shared by server replicas."""

from __future__ import annotations

import builtins
from typing import Any

import psycopg

from noetl.errors import ConflictError, NotFoundError
from noetl.store.hooks import Hook
from noetl.store.postgres.connection import failure
from noetl.store.postgres.pooled import PooledStore
from noetl.store.postgres.rows import iso
from noetl.store.postgres.statements import QUERIES


class PostgresHookStore(PooledStore):
    """The hook store port on PostgreSQL. Create it with `await ...open(dsn)`."""

    what = "hook store"
    pool_name = "noetl-hook-store"

    async def add(self, hook: Hook) -> Hook:
        """Store a new hook; ConflictError when the name is taken."""
        self._check_open()
        params = (hook.name, hook.path, hook.version, hook.secret_sha256)
        try:
            async with self._pool.connection() as conn:
                await conn.execute(QUERIES["hook_insert"], params)
        except psycopg.errors.UniqueViolation:
            raise ConflictError(f"hook {hook.name!r} already exists") from None
        except psycopg.Error as exc:
            raise failure(f"storing hook {hook.name!r}", self._where, exc, self._dsn) from None
        return await self.get(hook.name)

    async def get(self, name: str) -> Hook:
        """The hook called `name`."""
        rows = await self._query(QUERIES["hook_get"], (name,), "reading hooks")
        if not rows:
            raise NotFoundError(f"hook {name!r} not found")
        return _hook(rows[0])

    async def list(self) -> builtins.list[Hook]:
        """Every hook, by name."""
        return [_hook(row) for row in await self._query(QUERIES["hook_list"], (), "listing hooks")]

    async def delete(self, name: str) -> bool:
        """Remove a hook."""
        self._check_open()
        try:
            async with self._pool.connection() as conn:
                return (await conn.execute(QUERIES["hook_delete"], (name,))).rowcount > 0
        except psycopg.Error as exc:
            raise failure(f"deleting hook {name!r}", self._where, exc, self._dsn) from None


def _hook(row: tuple[Any, ...]) -> Hook:
    name, path, version, digest, created = row
    return Hook(name, path, version, digest, iso(created) or "")
