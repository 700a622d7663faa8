"""Event store: the port (`EventStore`) and its adapters (memory, SQLite; PostgreSQL later).

Import an adapter from its own module (`noetl.store.memory`, `noetl.store.sqlite`); only the
runtime assembly decides which one a process uses.
"""

from noetl.store.port import EventStore, ExecutionSummary

__all__ = ["EventStore", "ExecutionSummary"]
