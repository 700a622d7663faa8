"""The PostgreSQL event store beyond the contract suite: several stores (server replicas) on one
database, migrations, and errors. Runs against the session's real PostgreSQL (`pg_dsn`)."""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from noetl.devservers.processes import free_port
from noetl.devservers.services import LocalPostgres
from noetl.engine import events as ev
from noetl.engine.events import Event
from noetl.errors import ConflictError, NotFoundError, StoreError, StoreUnavailableError
from noetl.store.postgres import PostgresEventStore, migrate
from noetl.store.postgres.catalog import PostgresCatalogStore
from noetl.store.postgres.connection import describe
from noetl.store.postgres.statements import MIGRATIONS

pytestmark = pytest.mark.integration

T = TypeVar("T")


@pytest.fixture
def schema_dsn(pg_dsn: str) -> Iterator[str]:
    """A DSN whose tables live in a schema of this test's own (dropped afterwards)."""
    schema = f"store_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    yield make_conninfo(pg_dsn, options=f"-c search_path={schema}")
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


def with_stores(dsn: str, count: int, body: Callable[..., Awaitable[T]]) -> T:
    """Open `count` stores on the same database (like server replicas), run `body(*stores)`."""

    async def main() -> T:
        stores = [await PostgresEventStore.open(dsn, max_size=4) for _ in range(count)]
        try:
            return await body(*stores)
        finally:
            for store in stores:
                await store.close()

    return asyncio.run(main())


def started(eid: str) -> Event:
    return Event(ev.PLAYBOOK_STARTED, eid, payload={"playbook": {"name": "p", "path": "p"}})


def done(eid: str, n: int | str, **payload: Any) -> Event:
    return Event(ev.TASK_DONE, eid, step="s", command_id=f"c{n}", payload=payload)


def assert_gap_free(log: list[Event]) -> None:
    assert [e.seq for e in log] == list(range(1, len(log) + 1))
    assert len({e.key for e in log}) == len(log)


# -- two stores on one execution ----------------------------------------------------------------


def test_two_stores_appending_to_one_execution_interleave_without_gaps(schema_dsn):
    async def body(a, b):
        await a.append("e1", [started("e1")])

        async def writer(store, name):
            written = []
            for n in range(40):
                written += await store.append("e1", [done("e1", f"{name}{n}")])
            return written

        from_a, from_b = await asyncio.gather(writer(a, "a"), writer(b, "b"))
        return from_a, from_b, await a.read("e1"), await b.get_execution("e1")

    from_a, from_b, log, summary = with_stores(schema_dsn, 2, body)
    assert len(log) == 81
    assert_gap_free(log)
    assert summary.last_seq == 81
    # What each store returned is exactly what the log holds at those seqs.
    by_seq = {e.seq: e for e in log}
    for event in from_a + from_b:
        assert by_seq[event.seq] == event


def test_redelivered_events_racing_through_two_stores_are_stored_once(schema_dsn):
    async def body(a, b):
        await a.append("e1", [started("e1")])
        batch = [done("e1", n) for n in range(10)]
        results = await asyncio.gather(*(s.append("e1", batch) for s in (a, b, a, b)))
        return results, await b.read("e1")

    results, log = with_stores(schema_dsn, 2, body)
    assert_gap_free(log)
    assert [e.command_id for e in log[1:]] == [f"c{n}" for n in range(10)]
    assert sum(len(written) for written in results) == 10  # each fact written by one caller


def test_expected_seq_from_a_stale_view_is_a_conflict_and_a_plain_append_recovers(schema_dsn):
    async def body(a, b):
        await a.append("e1", [started("e1"), done("e1", 1)])  # a now caches last seq 2
        await b.append("e1", [done("e1", 2)])  # seq 3, behind a's back
        with pytest.raises(ConflictError, match="e1"):
            await a.append("e1", [done("e1", 3)], expected_seq=2)
        again = await a.append("e1", [done("e1", 3)])  # stale cache: re-read, no conflict
        return again, await a.read("e1")

    again, log = with_stores(schema_dsn, 2, body)
    assert [e.seq for e in again] == [4]
    assert_gap_free(log)


def test_batches_over_the_same_executions_in_opposite_orders_all_land(schema_dsn):
    async def body(a, b):
        for eid in ("e1", "e2"):
            await a.append(eid, [started(eid)])

        async def writer(store, order, tag):
            for n in range(20):
                await store.append_batches({eid: [done(eid, f"{tag}{n}")] for eid in order})

        await asyncio.gather(writer(a, ("e1", "e2"), "a"), writer(b, ("e2", "e1"), "b"))
        return await a.read("e1"), await b.read("e2")

    log1, log2 = with_stores(schema_dsn, 2, body)
    for log in (log1, log2):
        assert len(log) == 41
        assert_gap_free(log)


def test_a_finished_execution_keeps_its_first_outcome_across_stores(schema_dsn):
    async def body(a, b):
        await a.append("e1", [started("e1")])
        await asyncio.gather(
            a.append("e1", [Event(ev.PLAYBOOK_DONE, "e1", payload={"result": 1})]),
            b.append("e1", [Event(ev.PLAYBOOK_CANCELLED, "e1", origin="client")]),
        )
        return await a.read("e1"), await b.get_execution("e1")

    log, summary = with_stores(schema_dsn, 2, body)
    first = log[1]
    assert summary.status == ("done" if first.type == ev.PLAYBOOK_DONE else "cancelled")
    assert summary.finished_at == first.created_at


# -- migrations ---------------------------------------------------------------------------------


def test_stores_opening_at_once_migrate_once(schema_dsn):
    async def body(*stores):
        return await stores[0].last_seq("nobody")

    assert with_stores(schema_dsn, 3, body) == 0
    with psycopg.connect(schema_dsn) as conn:
        versions = [row[0] for row in conn.execute("SELECT version FROM schema_migrations")]
    assert sorted(versions) == [m.version for m in MIGRATIONS]


def test_migrate_applies_what_is_missing_and_then_nothing(schema_dsn):
    first = asyncio.run(migrate(schema_dsn))
    second = asyncio.run(migrate(schema_dsn))
    assert first == [m.version for m in MIGRATIONS]
    assert second == []


def test_a_database_from_a_newer_noetl_is_refused(schema_dsn):
    asyncio.run(migrate(schema_dsn))
    with psycopg.connect(schema_dsn, autocommit=True) as conn:
        conn.execute("INSERT INTO schema_migrations VALUES (999, now())")
    with pytest.raises(StoreError, match="schema version 999, newer"):
        asyncio.run(PostgresEventStore.open(schema_dsn))


# -- errors ---------------------------------------------------------------------------------------


def test_unreachable_database_error_names_it_without_the_password():
    dsn = f"postgresql://noetl:s3cret-pw@127.0.0.1:{free_port()}/noetl"
    with pytest.raises(StoreError) as caught:
        asyncio.run(PostgresEventStore.open(dsn))
    message = str(caught.value)
    assert "noetl@127.0.0.1" in message
    assert "s3cret-pw" not in message


def test_a_malformed_dsn_is_refused_without_repeating_it():
    with pytest.raises(StoreError, match="not a valid connection string") as caught:
        asyncio.run(PostgresEventStore.open("host=x password=s3cret-pw bogus"))
    assert "s3cret-pw" not in str(caught.value)


def test_a_payload_postgresql_cannot_store_fails_the_whole_batch(schema_dsn):
    async def body(store):
        with pytest.raises(StoreError, match="appending events"):
            await store.append("e1", [started("e1"), done("e1", 1, text="nul \x00 inside")])
        with pytest.raises(NotFoundError):
            await store.get_execution("e1")
        return await store.last_seq("e1")

    assert with_stores(schema_dsn, 1, body) == 0


def test_a_payload_json_cannot_hold_is_refused_naming_its_event(schema_dsn):
    looped: dict[str, Any] = {}
    looped["self"] = looped  # a circular reference: no JSON text for it

    async def body(store):
        batch = [started("e1"), done("e1", 1), done("e1", 2, value=looped)]
        with pytest.raises(StoreError, match=r"payload of event task.done \(step 's'\)"):
            await store.append("e1", batch)
        return await store.last_seq("e1")

    assert with_stores(schema_dsn, 1, body) == 0


def test_a_closed_store_refuses_work(schema_dsn):
    async def body(store):
        await store.close()
        await store.close()  # idempotent
        with pytest.raises(StoreError, match="closed"):
            await store.append("e1", [started("e1")])
        with pytest.raises(StoreError, match="closed"):
            await store.read("e1")

    with_stores(schema_dsn, 1, body)


def test_reads_fail_fast_while_the_database_is_down_and_recover_by_themselves(tmp_path):
    """While PostgreSQL is down a read is refused at once (StoreUnavailableError, a 503 at the
    server) saying the database cannot be reached and why, instead of waiting out the pool's
    30 s; once it is back, reads succeed again without reopening the store."""
    postgres = LocalPostgres.start(tmp_path / "pg", durable=False)

    async def scenario() -> list[str]:
        store = await PostgresEventStore.open(postgres.dsn, max_size=2)
        try:
            await store.append("e1", [started("e1")])
            outage = asyncio.create_task(
                asyncio.to_thread(postgres.restart, signal.SIGKILL, down=4.0)
            )
            refusals: list[str] = []
            while not outage.done():
                try:  # a read may not hang while the database is away
                    await asyncio.wait_for(store.read("e1"), timeout=5.0)
                except StoreUnavailableError as exc:
                    refusals.append(str(exc))
                await asyncio.sleep(0.1)
            await outage
            for _ in range(150):  # back within the pool's reconnect bound, by itself
                try:
                    assert len(await store.read("e1")) == 1
                    return refusals
                except StoreUnavailableError:
                    await asyncio.sleep(0.1)
            raise AssertionError("reads did not recover after the database came back")
        finally:
            await store.close()

    try:
        refusals = asyncio.run(scenario())
    finally:
        postgres.stop()
    unreachable = [m for m in refusals if "the database cannot be reached" in m]
    assert unreachable, refusals
    assert "Connection refused" in unreachable[-1]
    assert unreachable[-1].startswith(f"reading on {describe(postgres.dsn)} failed")


def test_a_quiet_store_reads_at_once_after_the_database_restarted(tmp_path):
    """The catalog's idle connection lost its server in a restart nobody saw: the first read
    after it still succeeds (a connection is tested before use), rather than failing once
    per stale connection."""
    postgres = LocalPostgres.start(tmp_path / "pg", durable=False)

    async def scenario() -> str:
        catalog = await PostgresCatalogStore.open(postgres.dsn)
        try:
            await catalog.register("team/etl", "etl", "workflow: []")
            await asyncio.to_thread(postgres.restart, signal.SIGKILL, down=1.0)
            return (await catalog.get("team/etl")).name
        finally:
            await catalog.close()

    try:
        assert asyncio.run(scenario()) == "etl"
    finally:
        postgres.stop()
