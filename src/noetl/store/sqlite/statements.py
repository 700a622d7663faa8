"""The SQL of the SQLite adapter, loaded once from the package's `.sql` files.

`queries/<name>.sql` holds one statement each (the file name is the statement's name);
`migrations/NNNN_<what>.sql` are the versioned schema changes, applied in order by
`noetl.store.sqlite.schema`. Landed migrations are never edited: a change is a new file.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from importlib.resources import files

from noetl.errors import StoreError

_PACKAGE = files("noetl.store.sqlite")


@dataclass(frozen=True)
class Migration:
    """One versioned schema change, split into statements."""

    version: int
    name: str
    statements: tuple[str, ...]


def _load_queries() -> dict[str, str]:
    folder = _PACKAGE / "queries"
    return {
        entry.name.removesuffix(".sql"): entry.read_text(encoding="utf-8").strip()
        for entry in folder.iterdir()
        if entry.name.endswith(".sql")
    }


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


def _load_migrations() -> tuple[Migration, ...]:
    found = []
    for entry in (_PACKAGE / "migrations").iterdir():
        if not entry.name.endswith(".sql"):
            continue
        number, _, name = entry.name.removesuffix(".sql").partition("_")
        if not number.isdigit():
            raise StoreError(f"migration file {entry.name!r} does not start with a version number")
        script = entry.read_text(encoding="utf-8")
        found.append(Migration(int(number), name, split_statements(script)))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise StoreError(f"SQLite migrations must be numbered 1..n without gaps, found {versions}")
    return tuple(found)


QUERIES: dict[str, str] = _load_queries()
MIGRATIONS: tuple[Migration, ...] = _load_migrations()
