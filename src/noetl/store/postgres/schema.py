"""Bring a PostgreSQL database to the schema this version of NoETL knows (versioned migrations).

All pending migrations run in one transaction that first takes an advisory lock, so two servers
starting at once (or a server and `noetl db migrate`) apply them one after the other: the second
finds them recorded in `schema_migrations` and does nothing.
"""

from __future__ import annotations

import psycopg
from psycopg.rows import TupleRow

from noetl.errors import StoreError
from noetl.store.postgres.connection import connect, describe, failure
from noetl.store.postgres.statements import MIGRATIONS, QUERIES


async def apply_migrations(conn: psycopg.AsyncConnection[TupleRow], where: str) -> list[int]:
    """Apply the migrations not yet applied on `conn` (autocommit); return their versions."""
    newest_known = MIGRATIONS[-1].version if MIGRATIONS else 0
    applied: list[int] = []
    async with conn.transaction():
        await conn.execute(QUERIES["migration_lock"])
        await conn.execute(QUERIES["create_schema_migrations"])
        rows = await (await conn.execute(QUERIES["applied_versions"])).fetchall()
        done = {int(row[0]) for row in rows}
        if done and max(done) > newest_known:
            raise StoreError(
                f"{where} has schema version {max(done)}, newer than this NoETL knows "
                f"({newest_known}); upgrade NoETL to use it"
            )
        for migration in MIGRATIONS:
            if migration.version in done:
                continue
            try:
                await conn.execute(migration.script)
            except psycopg.Error as exc:
                raise StoreError(
                    f"migration {migration.label} failed on {where}: {exc}".strip()
                ) from None
            await conn.execute(QUERIES["record_migration"], (migration.version,))
            applied.append(migration.version)
    return applied


async def migrate(dsn: str) -> list[int]:
    """Migrate the database at `dsn` (what `noetl db migrate` runs); the versions applied."""
    where = describe(dsn)
    conn = await connect(dsn, where)
    try:
        return await apply_migrations(conn, where)
    except psycopg.Error as exc:
        raise failure("migrating", where, exc, dsn) from None
    finally:
        await conn.close()
