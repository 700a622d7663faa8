"""The `duckdb` tool against real DuckDB databases (in memory and files under tmp_path)."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Mapping
from typing import Any

import pytest

from noetl.errors import ToolError
from noetl.tools.base import Resources, ToolContext
from noetl.tools.duckdb import DuckdbTool
from support.tools import DictCredentials, tool_context


def make_ctx(credentials: Any = None) -> ToolContext:
    return tool_context(Resources(credentials=credentials), step="transform", task="sql")


def call(config: Mapping[str, Any], *, credentials: Any = None) -> Any:
    return asyncio.run(DuckdbTool().run(config, make_ctx(credentials)))


def fails(config: Mapping[str, Any], **kwargs: Any) -> ToolError:
    with pytest.raises(ToolError) as info:
        call(config, **kwargs)
    return info.value


# --- queries, databases, params ---


def test_query_returns_rows_columns_and_row_count():
    result = call({"query": "SELECT range AS n, 'v' || range AS label FROM range(3) ORDER BY n"})
    assert result == {
        "rows": [{"n": 0, "label": "v0"}, {"n": 1, "label": "v1"}, {"n": 2, "label": "v2"}],
        "row_count": 3,
        "columns": ["n", "label"],
    }


def test_default_database_is_a_fresh_in_memory_one_per_task():
    call({"query": "CREATE TABLE t AS SELECT 1 AS a"})
    err = fails({"query": "SELECT * FROM t"})
    assert (err.kind, err.code) == ("duckdb", "CatalogException")
    assert call({"database": ":memory:", "query": "SELECT 2 AS b"})["rows"] == [{"b": 2}]


def test_file_database_persists_between_tasks(tmp_path):
    db = str(tmp_path / "data.duckdb")
    created = call(
        {
            "database": db,
            "queries": [
                "CREATE TABLE t (id INTEGER, name VARCHAR)",
                "INSERT INTO t VALUES (1, 'a'), (2, 'b')",
            ],
        }
    )
    assert created["rows"] == [{"Count": 2}]  # DuckDB reports the inserted row count
    assert (tmp_path / "data.duckdb").exists()
    rows = call({"database": db, "query": "SELECT name FROM t ORDER BY id"})["rows"]
    assert rows == [{"name": "a"}, {"name": "b"}]


def test_queries_run_in_one_transaction_rolled_back_on_error(tmp_path):
    db = str(tmp_path / "tx.duckdb")
    call({"database": db, "query": "CREATE TABLE t (id INTEGER)"})
    err = fails(
        {"database": db, "queries": ["INSERT INTO t VALUES (1)", "INSERT INTO t VALUS (2)"]}
    )
    assert (err.kind, err.code, err.retryable) == ("duckdb", "ParserException", False)
    assert "step 'transform' task 'sql' field 'queries[1]'" in err.message
    assert call({"database": db, "query": "SELECT count(*) AS n FROM t"})["rows"] == [{"n": 0}]


def test_positional_params_are_bound():
    result = call({"query": "SELECT ? + 1 AS a, $2 AS b", "params": [41, "x"]})
    assert result["rows"] == [{"a": 42, "b": "x"}]


def test_named_params_are_bound():
    result = call(
        {"query": "SELECT $name AS name, $n * 2 AS twice", "params": {"name": "o'k", "n": 4}}
    )
    assert result["rows"] == [{"name": "o'k", "twice": 8}]


def test_params_are_never_formatted_into_the_sql(tmp_path):
    db = str(tmp_path / "safe.duckdb")
    call({"database": db, "queries": ["CREATE TABLE t (s VARCHAR)", "INSERT INTO t VALUES ('x')"]})
    evil = "x'; DROP TABLE t; --"
    assert call({"database": db, "query": "SELECT ? AS s", "params": [evil]})["rows"] == [
        {"s": evil}
    ]
    assert call({"database": db, "query": "SELECT count(*) AS n FROM t"})["rows"] == [{"n": 1}]


def test_queries_items_carry_their_own_params():
    result = call(
        {
            "queries": [
                "CREATE TABLE t (a INTEGER, b VARCHAR)",
                {"query": "INSERT INTO t VALUES (?, ?)", "params": [1, "one"]},
                {"query": "INSERT INTO t VALUES ($a, $b)", "params": {"a": 2, "b": "two"}},
                "SELECT * FROM t ORDER BY a",
            ]
        }
    )
    assert result["rows"] == [{"a": 1, "b": "one"}, {"a": 2, "b": "two"}]


def test_last_statement_without_rows_gives_an_empty_result():
    assert call({"query": "CREATE TABLE t (a INTEGER)"}) == {
        "rows": [],
        "row_count": 0,
        "columns": ["Count"],
    }


def test_values_are_made_json_friendly():
    row = call(
        {
            "query": """SELECT 1.5::DECIMAL(4, 2) AS d, DATE '2024-01-02' AS day,
                TIMESTAMP '2024-01-02 03:04:05' AS ts, TIME '10:11:12' AS tm,
                UUID '123e4567-e89b-12d3-a456-426614174000' AS u, 'ab'::BLOB AS b,
                INTERVAL 90 MINUTE AS i, [1.25::DECIMAL(5, 2)] AS l, {'x': DATE '2024-05-06'} AS s,
                MAP {'k': 2} AS m, NULL AS nothing"""
        }
    )["rows"][0]
    assert row == {
        "d": 1.5,
        "day": "2024-01-02",
        "ts": "2024-01-02T03:04:05",
        "tm": "10:11:12",
        "u": "123e4567-e89b-12d3-a456-426614174000",
        "b": "YWI=",
        "i": 5400.0,
        "l": [1.25],
        "s": {"x": "2024-05-06"},
        "m": {"k": 2},
        "nothing": None,
    }
    json.dumps(row)


# --- input relations from task args ---


def test_list_of_mapping_args_are_registered_as_relations():
    args = {
        "_prev": [{"id": 1, "amount": 10.5}, {"id": 2, "amount": 4}],
        "names": [{"id": 1, "name": "ann"}, {"id": 2, "name": "bob", "extra": {"vip": True}}],
        "threshold": 5,
        "tags": ["a", "b"],
    }
    result = call(
        {
            "args": args,
            "query": """SELECT n.name, p.amount, n.extra.vip AS vip FROM _prev p
                JOIN names n USING (id) WHERE p.amount > $t ORDER BY p.id""",
            "params": {"t": args["threshold"]},
        }
    )
    assert result["rows"] == [{"name": "ann", "amount": 10.5, "vip": None}]


def test_relations_see_every_key_and_infer_types():
    rows = [{"a": 1}, {"a": 2, "b": "late key"}, {"a": None, "b": None}]
    result = call(
        {
            "args": {"items": rows},
            "query": "SELECT typeof(a) ta, typeof(b) tb, count(*) n FROM items GROUP BY ALL",
        }
    )
    assert result["rows"] == [{"ta": "BIGINT", "tb": "VARCHAR", "n": 3}]


def test_non_relation_args_are_not_registered():
    err = fails({"args": {"tags": ["a"], "empty": []}, "query": "SELECT * FROM tags"})
    assert err.code == "CatalogException"
    err = fails({"args": {"tags": ["a"], "empty": []}, "query": "SELECT * FROM empty"})
    assert err.code == "CatalogException"


def test_relations_do_not_touch_the_database_file(tmp_path):
    db = str(tmp_path / "keep.duckdb")
    call({"database": db, "args": {"rows": [{"a": 1}]}, "query": "SELECT * FROM rows"})
    err = fails({"database": db, "query": "SELECT * FROM rows"})
    assert err.code == "CatalogException"


# --- bad config and DuckDB errors ---


@pytest.mark.parametrize(
    "config, field, expected",
    [
        ({}, "query", "give exactly one of query, queries"),
        ({"query": "SELECT 1", "queries": ["SELECT 2"]}, "query", "give exactly one of"),
        ({"query": "  "}, "query", "expected a SQL text"),
        ({"queries": []}, "queries", "non-empty list"),
        ({"queries": ["SELECT 1", 5]}, "queries[1]", "expected a SQL text"),
        ({"queries": ["SELECT ?"], "params": [1]}, "params", "give params per item"),
        ({"query": "SELECT ?", "params": "1"}, "params", "expected a list"),
        (
            {"queries": [{"query": "SELECT ?", "params": 3}]},
            "queries[0].params",
            "expected a list",
        ),
        ({"query": "SELECT 1", "database": 3}, "database", "expected a file path"),
    ],
)
def test_bad_config_is_a_config_error_naming_the_field(config, field, expected):
    err = fails(config)
    assert (err.kind, err.retryable) == ("config", False)
    assert f"step 'transform' task 'sql' field {field!r}: " in err.message
    assert expected in err.message


def test_syntax_error_is_a_duckdb_error_naming_step_task_and_field():
    err = fails({"query": "SELEC 1"})
    assert (err.kind, err.code, err.retryable) == ("duckdb", "ParserException", False)
    assert err.message.startswith("step 'transform' task 'sql' field 'query': Parser Error")


def test_wrong_param_count_is_a_duckdb_error():
    err = fails({"query": "SELECT ?, ?", "params": [1]})
    assert err.kind == "duckdb"
    assert "field 'query'" in err.message


def test_database_in_a_missing_directory_is_a_duckdb_error(tmp_path):
    err = fails({"database": str(tmp_path / "no" / "such" / "db.duckdb"), "query": "SELECT 1"})
    assert (err.kind, err.code) == ("duckdb", "IOException")
    assert "field 'database'" in err.message


@pytest.mark.timeout(120)
def test_cancelling_the_task_interrupts_the_query():
    # asyncio.run waits for the worker thread on exit: without the interrupt this query would
    # run for a very long time and the test would hit its timeout.
    endless = "SELECT sum(a.range * b.range) FROM range(100000000) a, range(100000000) b"

    async def go() -> None:
        await asyncio.wait_for(DuckdbTool().run({"query": endless}, make_ctx()), 0.5)

    with pytest.raises(TimeoutError):
        asyncio.run(go())


# --- attach ---


@pytest.mark.parametrize(
    "item, field, expected",
    [
        ("pg", "attach[0]", "expected {name, credential | dsn, type: postgres}"),
        ({"name": "bad name", "dsn": "x"}, "attach[0].name", "not a plain SQL identifier"),
        ({"name": "pg", "dsn": "x", "type": "mysql"}, "attach[0].type", "unsupported type"),
        ({"name": "pg"}, "attach[0]", "give exactly one of credential, dsn"),
        ({"name": "pg", "dsn": "x", "credential": "c"}, "attach[0]", "exactly one of"),
    ],
)
def test_bad_attach_entries_are_config_errors(item, field, expected):
    err = fails({"attach": [item], "query": "SELECT 1"})
    assert err.kind == "config"
    assert f"field {field!r}" in err.message
    assert expected in err.message


def test_attach_must_be_a_list():
    err = fails({"attach": {"name": "pg"}, "query": "SELECT 1"})
    assert (err.kind, "field 'attach'" in err.message) == ("config", True)


def test_attach_with_unknown_credential_is_a_credential_error():
    config = {"attach": [{"name": "pg", "credential": "nope"}], "query": "SELECT 1"}
    err = fails(config, credentials=DictCredentials({}))
    assert err.kind == "credential"
    assert "field 'attach[0].credential'" in err.message
    assert "credential 'nope' not found" in err.message
    err = fails(config)
    assert err.kind == "credential"
    assert "no credential store" in err.message


def test_failing_attach_names_the_field_and_hides_the_password():
    # Offline, DuckDB cannot fetch its postgres extension; online, nothing listens on the port.
    # Either way the error must be clear, name the field and keep the password out.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    store = DictCredentials(
        {"pg": {"host": "127.0.0.1", "port": port, "user": "u", "password": "pa55-w0rd!"}}
    )
    err = fails(
        {"attach": [{"name": "pg", "credential": "pg"}], "query": "SELECT 1"}, credentials=store
    )
    assert err.kind == "duckdb"
    assert "step 'transform' task 'sql' field 'attach[0]'" in err.message
    assert "pa55-w0rd!" not in err.message
