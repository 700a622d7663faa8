"""SQLite adapter of the event store (embedded mode). SQL lives in `queries/` and `migrations/`."""

from noetl.store.sqlite.catalog import SqliteCatalogStore
from noetl.store.sqlite.credentials import SqliteCredentialStore
from noetl.store.sqlite.results import SqliteResultStore
from noetl.store.sqlite.store import SqliteEventStore

__all__ = [
    "SqliteCatalogStore",
    "SqliteCredentialStore",
    "SqliteEventStore",
    "SqliteResultStore",
]
