"""PostgreSQL adapter of the event store (distributed mode). SQL lives in `queries/` and
`migrations/`; `migrate(dsn)` brings a database to the current schema (`noetl db migrate`)."""

from noetl.store.postgres.schema import migrate
from noetl.store.postgres.store import PostgresEventStore

__all__ = ["PostgresEventStore", "migrate"]
