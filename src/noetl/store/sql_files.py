"""The SQL of a database adapter, in its package's `.sql` files, read once when it is imported.

`queries/<name>.sql` holds one statement each (the file name is the statement's name);
`migrations/NNNN_<what>.sql` are the versioned schema changes, numbered 1..n without gaps.
Landed migrations are never edited: a change is a new file. How a migration is run is the
adapter's (`noetl.store.sqlite.statements`, `noetl.store.postgres.statements`).
"""

from __future__ import annotations

from importlib.resources import files

from noetl.errors import StoreError


def load_queries(package: str) -> dict[str, str]:
    """Each statement of `package`'s queries/ folder, by name."""
    folder = files(package) / "queries"
    return {
        entry.name.removesuffix(".sql"): entry.read_text(encoding="utf-8").strip()
        for entry in folder.iterdir()
        if entry.name.endswith(".sql")
    }


def load_migrations(package: str, database: str) -> list[tuple[int, str, str]]:
    """The (version, name, script) of each file in `package`'s migrations/ folder, in order;
    StoreError naming `database` when a file has no version number or one is missing."""
    found = []
    for entry in (files(package) / "migrations").iterdir():
        if not entry.name.endswith(".sql"):
            continue
        number, _, name = entry.name.removesuffix(".sql").partition("_")
        if not number.isdigit():
            raise StoreError(f"migration file {entry.name!r} does not start with a version number")
        found.append((int(number), name, entry.read_text(encoding="utf-8")))
    found.sort(key=lambda migration: migration[0])
    versions = [version for version, _, _ in found]
    if versions != list(range(1, len(found) + 1)):
        raise StoreError(
            f"{database} migrations must be numbered 1..n without gaps, found {versions}"
        )
    return found
