"""The SQL of the PostgreSQL adapter, loaded once from the package's `.sql` files.

`queries/<name>.sql` holds one statement each (the file name is the statement's name);
`migrations/NNNN_<what>.sql` are the versioned schema changes, each run as one script inside the
migrating transaction by `noetl.store.postgres.schema`. Landed migrations are never edited: a
change is a new file.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files

from noetl.errors import StoreError

_PACKAGE = files("noetl.store.postgres")


@dataclass(frozen=True)
class Migration:
    """One versioned schema change (a script of one or more statements)."""

    version: int
    name: str
    script: str

    @property
    def label(self) -> str:
        """`0001_events`: how people name the migration (its file name)."""
        return f"{self.version:04d}_{self.name}"


def _load_queries() -> dict[str, str]:
    folder = _PACKAGE / "queries"
    return {
        entry.name.removesuffix(".sql"): entry.read_text(encoding="utf-8").strip()
        for entry in folder.iterdir()
        if entry.name.endswith(".sql")
    }


def _load_migrations() -> tuple[Migration, ...]:
    found = []
    for entry in (_PACKAGE / "migrations").iterdir():
        if not entry.name.endswith(".sql"):
            continue
        number, _, name = entry.name.removesuffix(".sql").partition("_")
        if not number.isdigit():
            raise StoreError(f"migration file {entry.name!r} does not start with a version number")
        found.append(Migration(int(number), name, entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise StoreError(
            f"PostgreSQL migrations must be numbered 1..n without gaps, found {versions}"
        )
    return tuple(found)


QUERIES: dict[str, str] = _load_queries()
MIGRATIONS: tuple[Migration, ...] = _load_migrations()
