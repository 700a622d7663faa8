"""The `postgres` tool against a real PostgreSQL (the `pg_dsn` session fixture)."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import uuid
from typing import Any

import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from noetl.errors import ToolError
from noetl.tools.base import Resources, ToolContext
from noetl.tools.postgres import PostgresTool
from support.tools import DictCredentials, tool_context

pytestmark = pytest.mark.integration


def context(resources: Resources, timeout: float | None = None) -> ToolContext:
    return tool_context(resources, step="load", task="sql", timeout=timeout)


async def _run_all(
    configs: list[dict[str, Any]], resources: Resources, timeout: float | None
) -> list[Any]:
    tool = PostgresTool()
    try:
        return [await tool.run(config, context(resources, timeout)) for config in configs]
    finally:
        await resources.aclose()


def run(*configs: dict[str, Any], credentials: Any = None, timeout: float | None = None) -> Any:
    """Run the tasks one after the other on one worker's resources; the last result."""
    resources = Resources(credentials=credentials)
    return asyncio.run(_run_all(list(configs), resources, timeout))[-1]


def failure(*configs: dict[str, Any], **kwargs: Any) -> ToolError:
    with pytest.raises(ToolError) as caught:
        run(*configs, **kwargs)
    return caught.value


@pytest.fixture
def table(pg_dsn: str) -> str:
    """A fresh table `(id int primary key, name text)` with a unique name."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    run({"dsn": pg_dsn, "query": f"CREATE TABLE {name} (id int PRIMARY KEY, name text)"})
    return name


def test_select_returns_rows_columns_and_row_count(pg_dsn: str) -> None:
    result = run({"dsn": pg_dsn, "query": "SELECT n, n * 2 AS twice FROM generate_series(1, 3) n"})
    assert result == {
        "rows": [{"n": 1, "twice": 2}, {"n": 2, "twice": 4}, {"n": 3, "twice": 6}],
        "columns": ["n", "twice"],
        "row_count": 3,
    }


def test_positional_and_named_params_are_bound(pg_dsn: str, table: str) -> None:
    hostile = "x'); DROP TABLE " + table + "; --"
    insert = {
        "dsn": pg_dsn,
        "query": f"INSERT INTO {table} VALUES (%s, %s)",
        "params": [1, hostile],
    }
    assert run(insert)["row_count"] == 1
    select = {
        "dsn": pg_dsn,
        "query": f"SELECT name FROM {table} WHERE id = %(id)s",
        "params": {"id": 1},
    }
    assert run(select)["rows"] == [{"name": hostile}]


def test_queries_run_in_one_transaction_and_commit(pg_dsn: str, table: str) -> None:
    result = run(
        {
            "dsn": pg_dsn,
            "queries": [
                {"query": f"INSERT INTO {table} VALUES (%s, %s)", "params": [1, "a"]},
                {"query": f"INSERT INTO {table} VALUES (%s, %s)", "params": [2, "b"]},
                f"SELECT id, name FROM {table} ORDER BY id",
                f"UPDATE {table} SET name = upper(name)",
            ],
        }
    )
    # rows of the last statement that returned rows; row_count of the last statement
    assert result["rows"] == [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]
    assert result["row_count"] == 2
    committed = run({"dsn": pg_dsn, "query": f"SELECT name FROM {table} ORDER BY id"})
    assert committed["rows"] == [{"name": "A"}, {"name": "B"}]


def test_shared_named_params_apply_to_every_query(pg_dsn: str, table: str) -> None:
    result = run(
        {
            "dsn": pg_dsn,
            "params": {"id": 7, "name": "seven"},
            "queries": [
                f"INSERT INTO {table} VALUES (%(id)s, %(name)s)",
                f"SELECT name FROM {table} WHERE id = %(id)s",
            ],
        }
    )
    assert result["rows"] == [{"name": "seven"}]


def test_a_failing_query_rolls_back_the_earlier_ones(pg_dsn: str, table: str) -> None:
    error = failure(
        {
            "dsn": pg_dsn,
            "queries": [
                f"INSERT INTO {table} VALUES (1, 'kept?')",
                "INSERT INTO no_such_table_here VALUES (1)",
            ],
        }
    )
    assert (error.kind, error.code, error.retryable) == ("postgres", "42P01", False)
    assert "query 2 of 2" in error.message
    assert run({"dsn": pg_dsn, "query": f"SELECT count(*) AS n FROM {table}"})["rows"] == [{"n": 0}]


def test_unique_violation_carries_its_sqlstate_and_detail(pg_dsn: str, table: str) -> None:
    insert = f"INSERT INTO {table} VALUES (1, 'a')"
    error = failure({"dsn": pg_dsn, "queries": [insert, insert]})
    assert error.code == "23505"
    assert "already exists" in error.message


def test_syntax_error_names_step_task_and_sqlstate(pg_dsn: str) -> None:
    error = failure({"dsn": pg_dsn, "query": "SELEC 1"})
    assert (error.kind, error.code, error.retryable) == ("postgres", "42601", False)
    assert error.message.startswith("step 'load' task 'sql': ")
    assert "42601" in error.message and "syntax error" in error.message


def test_several_statements_in_one_string(pg_dsn: str) -> None:
    result = run({"dsn": pg_dsn, "query": "SELECT 1 AS a; SELECT 2 AS b, 3 AS c"})
    assert result == {"rows": [{"b": 2, "c": 3}], "columns": ["b", "c"], "row_count": 1}


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again when the block ends


def test_unreachable_server_is_a_retryable_connection_error_without_secrets() -> None:
    dsn = f"postgresql://alice:s3cret-pw@127.0.0.1:{_closed_port()}/db"
    error = failure({"dsn": dsn, "query": "SELECT 1"})
    assert (error.kind, error.retryable) == ("connection", True)
    assert "cannot connect" in error.message
    assert "s3cret-pw" not in error.message and dsn not in error.message


@pytest.mark.parametrize(
    ("setting", "value"),
    [("sslmode", "bogus"), ("port", "abc"), ("target_session_attrs", "any-old")],
)
def test_a_setting_libpq_refuses_is_a_config_error_naming_it(
    pg_dsn: str, setting: str, value: str
) -> None:
    dsn = make_conninfo(pg_dsn, password="s3cret-pw", **{setting: value})
    error = failure({"dsn": dsn, "query": "SELECT 1"})
    assert (error.kind, error.retryable) == ("config", False)
    assert f"setting `{setting}` is invalid" in error.message
    assert "s3cret-pw" not in error.message


def test_credential_with_fields_is_resolved_by_name(pg_dsn: str) -> None:
    parts = conninfo_to_dict(pg_dsn)
    fields = {"type": "postgres", "host": parts.get("host", "127.0.0.1"), "port": parts.get("port")}
    fields |= {
        "user": parts.get("user"),
        "password": parts.get("password"),
        "dbname": parts.get("dbname"),
    }
    credentials = DictCredentials({"warehouse": fields, "by_dsn": {"dsn": pg_dsn}})
    by_fields = run(
        {"auth": "warehouse", "query": "SELECT current_user AS u"}, credentials=credentials
    )
    by_dsn = run({"auth": "by_dsn", "query": "SELECT current_user AS u"}, credentials=credentials)
    assert by_fields == by_dsn
    assert by_fields["rows"][0]["u"] == (parts.get("user") or by_dsn["rows"][0]["u"])


def test_auth_may_be_a_dsn_string(pg_dsn: str) -> None:
    assert run({"auth": pg_dsn, "query": "SELECT 1 AS one"})["rows"] == [{"one": 1}]


def test_unknown_credential_is_a_credential_error() -> None:
    error = failure({"auth": "nope", "query": "SELECT 1"}, credentials=DictCredentials({}))
    assert error.kind == "credential"
    assert "'nope'" in error.message


def test_credential_name_without_a_store_is_a_credential_error() -> None:
    # Like every tool's (noetl.tools.credentials): one lookup, one error kind.
    error = failure({"auth": "warehouse", "query": "SELECT 1"})
    assert error.kind == "credential" and "warehouse" in error.message


def test_values_are_converted_to_json_friendly_ones(pg_dsn: str) -> None:
    query = """
        SELECT 1.50::numeric AS price, 10::numeric AS whole, 2::bigint AS big,
               DATE '2024-02-29' AS day,
               TIMESTAMPTZ '2024-02-29 12:30:00+00' AS at,
               TIMESTAMP '2024-02-29 12:30:00' AS local_at,
               TIME '08:15:00' AS clock,
               INTERVAL '1 minute 30 seconds' AS span,
               '6f1c4c9e-3f0b-4a77-9d3b-2f3c9e2a1b00'::uuid AS id,
               '\\x00ff10'::bytea AS raw,
               '{"a": [1, 2.5, null]}'::jsonb AS doc,
               ARRAY[1.25, 2]::numeric[] AS list,
               '127.0.0.1'::inet AS addr,
               true AS flag, NULL::text AS nothing
    """
    row = run({"dsn": pg_dsn, "query": query})["rows"][0]
    assert row == {
        "price": 1.5,
        "whole": 10,
        "big": 2,
        "day": "2024-02-29",
        "at": "2024-02-29T12:30:00+00:00",
        "local_at": "2024-02-29T12:30:00",
        "clock": "08:15:00",
        "span": 90.0,
        "id": "6f1c4c9e-3f0b-4a77-9d3b-2f3c9e2a1b00",
        "raw": base64.b64encode(b"\x00\xff\x10").decode(),
        "doc": {"a": [1, 2.5, None]},
        "list": [1.25, 2],
        "addr": "127.0.0.1",
        "flag": True,
        "nothing": None,
    }
    json.dumps(row)  # plain JSON all the way down


def test_one_pool_per_target_is_reused_across_tasks(pg_dsn: str) -> None:
    async def scenario() -> tuple[list[int], int, int]:
        resources = Resources()
        tool = PostgresTool()
        pids = []
        for _ in range(3):
            result = await tool.run(
                {"dsn": pg_dsn, "query": "SELECT pg_backend_pid() AS pid"}, context(resources)
            )
            pids.append(result["rows"][0]["pid"])
        pools = [key for key in resources.pools if key != "postgres:lock"]
        closers = len(resources.closers)
        await resources.aclose()
        return pids, len(pools), closers

    pids, pools, closers = asyncio.run(scenario())
    assert pools == 1 and closers == 1
    assert len(set(pids)) == 1  # the same pooled connection served every task


def test_task_timeout_cancels_the_statement_on_the_server(pg_dsn: str) -> None:
    error = failure({"dsn": pg_dsn, "query": "SELECT pg_sleep(30)"}, timeout=0.3)
    assert (error.kind, error.code, error.retryable) == ("timeout", "57014", True)


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"query": "SELECT 1"}, "`auth`"),
        ({"dsn": "x", "auth": "y", "query": "SELECT 1"}, "not both"),
        ({"dsn": "postgresql://h/db"}, "`query` or `queries`"),
        ({"dsn": "postgresql://h/db", "queries": []}, "`queries`"),
        ({"dsn": "postgresql://h/db", "queries": ["SELECT 1", 5]}, "`queries[1]`"),
        ({"dsn": "postgresql://h/db", "query": "SELECT %s", "params": 5}, "`params`"),
        ({"dsn": "not a dsn = 'x", "query": "SELECT 1"}, "not a valid DSN"),
    ],
)
def test_bad_config_is_a_config_error_naming_the_field(config: dict[str, Any], field: str) -> None:
    error = failure(config)
    assert error.kind == "config"
    assert field in error.message
    assert error.message.startswith("step 'load' task 'sql': ")
