"""What only the SQLite event store does: file setup, migrations, SQL as package data, a second
writer on the same file. (Behaviour shared with the other adapters is in tests/contract.)"""

from __future__ import annotations

import asyncio
import sqlite3
from importlib.resources import files

import pytest

from noetl.engine import events as ev
from noetl.engine.events import Event
from noetl.errors import ConflictError, StoreError
from noetl.store.sqlite import SqliteEventStore
from noetl.store.sqlite.schema import migrate
from noetl.store.sqlite.statements import MIGRATIONS, QUERIES, split_statements


def issued(eid: str, n: int) -> Event:
    return Event(ev.COMMAND_ISSUED, eid, step="s", command_id=f"cmd-{n}")


def run(coro):
    return asyncio.run(coro)


def versions(path) -> list[tuple[int, str]]:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT version, applied_at FROM schema_migrations").fetchall()


def test_open_creates_folders_and_a_wal_database(tmp_path):
    path = tmp_path / "a" / "b" / "noetl.db"
    store = SqliteEventStore.open(path)
    try:
        assert path.exists()
        with sqlite3.connect(path) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        assert {"events", "executions", "schema_migrations"} <= tables
    finally:
        run(store.close())


def test_every_migration_is_recorded_once_and_reopening_applies_none(tmp_path):
    path = tmp_path / "noetl.db"
    run(SqliteEventStore.open(path).close())
    recorded = versions(path)
    assert [v for v, _ in recorded] == [m.version for m in MIGRATIONS]
    assert [m.version for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))
    run(SqliteEventStore.open(path).close())
    assert versions(path) == recorded  # same rows, same applied_at
    with sqlite3.connect(path, isolation_level=None) as conn:
        assert migrate(conn, str(path)) == []


def test_database_from_a_newer_noetl_is_refused(tmp_path):
    path = tmp_path / "noetl.db"
    run(SqliteEventStore.open(path).close())
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO schema_migrations VALUES (99, 'later')")
    with pytest.raises(StoreError, match="schema version 99, newer"):
        SqliteEventStore.open(path)


def test_unopenable_path_is_a_store_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreError, match="cannot open SQLite event store"):
        SqliteEventStore.open(blocker / "noetl.db")


def test_sql_ships_as_package_data():
    package = files("noetl.store.sqlite")
    for name in ("insert_event", "update_execution", "read_events", "pragmas"):
        assert (package / "queries" / f"{name}.sql").is_file()
        assert QUERIES[name]
    assert (package / "migrations" / "0001_events.sql").is_file()


def test_split_statements_drops_comment_only_text_and_refuses_a_dangling_statement():
    script = "-- head\nCREATE TABLE t (a INT); -- tail\n\nCREATE INDEX i ON t (a);\n-- end\n"
    assert split_statements(script) == (
        "-- head\nCREATE TABLE t (a INT); -- tail",
        "CREATE INDEX i ON t (a);",
    )
    with pytest.raises(StoreError, match="incomplete SQL statement"):
        split_statements("CREATE TABLE t (a INT)")


def test_a_second_writer_on_the_same_file_does_not_break_the_sequence(tmp_path):
    path = tmp_path / "noetl.db"

    async def body():
        first = SqliteEventStore.open(path)
        second = SqliteEventStore.open(path)
        try:
            await first.append("e1", [issued("e1", 1)])  # `first` now caches seq 1
            await second.append("e1", [issued("e1", 2)])
            written = await first.append("e1", [issued("e1", 3)])
            late = await first.append("e1", [issued("e1", 4)], expected_seq=3)
            with pytest.raises(ConflictError):
                await first.append("e1", [issued("e1", 5)], expected_seq=3)
            return [e.seq for e in written + late], await second.read("e1")
        finally:
            await first.close()
            await second.close()

    seqs, log = run(body())
    assert seqs == [3, 4]
    assert [(e.seq, e.command_id) for e in log] == [
        (1, "cmd-1"),
        (2, "cmd-2"),
        (3, "cmd-3"),
        (4, "cmd-4"),
    ]


def test_stale_cache_does_not_fake_a_conflict(tmp_path):
    path = tmp_path / "noetl.db"

    async def body():
        first = SqliteEventStore.open(path)
        second = SqliteEventStore.open(path)
        try:
            await first.append("e1", [issued("e1", 1)])
            await second.append("e1", [issued("e1", 2)])
            # `first` caches 1, but the file says 2, and 2 is what the caller expects.
            return await first.append("e1", [issued("e1", 3)], expected_seq=2)
        finally:
            await first.close()
            await second.close()

    assert [e.seq for e in run(body())] == [3]


def test_closed_store_says_so(tmp_path):
    store = SqliteEventStore.open(tmp_path / "noetl.db")
    run(store.close())
    run(store.close())  # idempotent
    with pytest.raises(StoreError, match="closed"):
        run(store.read("e1"))
