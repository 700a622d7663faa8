"""Opening the SQLite file for the catalog and credential stores (same file as the event log)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from noetl.errors import StoreError
from noetl.store.sqlite.schema import migrate
from noetl.store.sqlite.statements import QUERIES


def open_database(path: str | Path, what: str) -> sqlite3.Connection:
    """An autocommit connection to the migrated database at `path` (created when absent).

    `what` names the store in errors ("catalog", "credential store").
    """
    where = str(path)
    try:
        if where != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # Autocommit: writes open BEGIN IMMEDIATE themselves, so their reads happen under the lock.
        conn = sqlite3.connect(where, isolation_level=None)
    except (OSError, sqlite3.Error) as exc:
        raise StoreError(f"cannot open SQLite {what} at {where}: {exc}") from exc
    try:
        conn.executescript(QUERIES["pragmas"])
        migrate(conn, where)
    except sqlite3.Error as exc:
        conn.close()
        raise StoreError(f"cannot open SQLite {what} at {where}: {exc}") from exc
    except BaseException:
        conn.close()
        raise
    return conn
