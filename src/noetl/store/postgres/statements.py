"""The SQL of the PostgreSQL adapter, loaded once from the package's `.sql` files
(`noetl.store.sql_files`): each migration is run as one script inside the migrating
transaction by `noetl.store.postgres.schema`.
"""

from __future__ import annotations

from dataclasses import dataclass

from noetl.store.sql_files import load_migrations, load_queries


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


QUERIES: dict[str, str] = load_queries("noetl.store.postgres")
MIGRATIONS: tuple[Migration, ...] = tuple(
    Migration(version, name, script)
    for version, name, script in load_migrations("noetl.store.postgres", "PostgreSQL")
)
