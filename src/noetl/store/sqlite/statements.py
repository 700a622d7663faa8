"""The SQL of the SQLite adapter, loaded once from the package's `.sql` files
(`noetl.store.sql_files`): each migration is split into its statements, applied in order by
`noetl.store.sqlite.schema`.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from noetl.errors import StoreError
from noetl.store.sql_files import load_migrations, load_queries


@dataclass(frozen=True)
class Migration:
    """One versioned schema change, split into statements."""

    version: int
    name: str
    statements: tuple[str, ...]


def split_statements(script: str) -> tuple[str, ...]:
    """Split a script into complete statements (as SQLite itself would parse them)."""
    statements = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            statement = buffer.strip()
            if _has_code(statement):
                statements.append(statement)
            buffer = ""
    if _has_code(buffer):
        raise StoreError(f"incomplete SQL statement at the end of a script: {buffer.strip()!r}")
    return tuple(statements)


def _has_code(text: str) -> bool:
    """True when `text` holds more than whitespace and `--` comments."""
    return any(line.strip() and not line.strip().startswith("--") for line in text.splitlines())


QUERIES: dict[str, str] = load_queries("noetl.store.sqlite")
MIGRATIONS: tuple[Migration, ...] = tuple(
    Migration(version, name, split_statements(script))
    for version, name, script in load_migrations("noetl.store.sqlite", "SQLite")
)
