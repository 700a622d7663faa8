"""Real PostgreSQL, NATS and a whole local cluster started from PyPI wheels, for tests and
`noetl dev up`. Nothing here is used by a deployed server or worker."""
