"""Bring a SQLite database to the schema this version of NoETL knows (versioned migrations)."""

from __future__ import annotations

import sqlite3

from noetl.errors import StoreError
from noetl.store.sqlite.statements import MIGRATIONS, QUERIES
from noetl.store.stamping import utc_now


def applied_versions(conn: sqlite3.Connection) -> list[int]:
    """Versions recorded in `schema_migrations`, ascending."""
    return [row[0] for row in conn.execute(QUERIES["applied_versions"])]


def migrate(conn: sqlite3.Connection, where: str) -> list[int]:
    """Apply the migrations not yet applied, each in its own transaction; return their versions.

    `conn` must be in autocommit mode (`isolation_level=None`). Safe to run from several
    processes at once: each migration re-checks, under the write lock, that it is still needed.
    """
    conn.execute(QUERIES["create_schema_migrations"])
    done = set(applied_versions(conn))
    newest_known = MIGRATIONS[-1].version if MIGRATIONS else 0
    if done and max(done) > newest_known:
        raise StoreError(
            f"SQLite database {where} has schema version {max(done)}, newer than this NoETL "
            f"knows ({newest_known}); upgrade NoETL to use it"
        )
    applied = []
    for migration in MIGRATIONS:
        if migration.version in done:
            continue
        conn.execute(QUERIES["begin_write"])
        try:
            if migration.version in applied_versions(conn):
                conn.rollback()  # another process applied it while we waited for the lock
                continue
            for statement in migration.statements:
                conn.execute(statement)
            conn.execute(QUERIES["record_migration"], (migration.version, utc_now()))
            conn.commit()
        except sqlite3.Error as exc:
            conn.rollback()
            label = f"{migration.version:04d}_{migration.name}"
            raise StoreError(f"SQLite migration {label} failed on {where}: {exc}") from exc
        applied.append(migration.version)
    return applied
