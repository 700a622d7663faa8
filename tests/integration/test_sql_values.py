"""One JSON form of database values: the `postgres` tool (on the test PostgreSQL) and the `duckdb`
tool turn the same values into the same result (rules in `noetl.tools.sql_values`)."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Any

import pytest

from noetl.tools.base import Resources
from noetl.tools.duckdb import DuckdbTool
from noetl.tools.postgres import PostgresTool
from noetl.tools.sql_values import json_value
from support.tools import tool_context

# (column, PostgreSQL expression, DuckDB expression, its JSON form). Compared as JSON text, so an
# int and a float of equal value (10 and 10.0) are told apart.
VALUES: list[tuple[str, str, str, Any]] = [
    ("price", "1.50::numeric(4,2)", "1.50::DECIMAL(4,2)", 1.5),
    ("whole", "10::numeric(10,0)", "10::DECIMAL(10,0)", 10),
    ("huge", "12345678901234567890::numeric(20,0)", "12345678901234567890::DECIMAL(20,0)",
     12345678901234567890),
    ("total", "(SELECT sum(x) FROM (VALUES (1), (2), (3)) AS t(x))",
     "(SELECT sum(x) FROM (VALUES (1), (2), (3)) AS t(x))", 6),
    ("big", "2::bigint", "2::BIGINT", 2),
    ("ratio", "0.25::float8", "0.25::DOUBLE", 0.25),
    ("not_a_number", "'NaN'::float8", "'NaN'::DOUBLE", "NaN"),
    ("minus_infinity", "'-Infinity'::float8", "'-Infinity'::DOUBLE", "-Infinity"),
    ("day", "DATE '2024-02-29'", "DATE '2024-02-29'", "2024-02-29"),
    ("at", "TIMESTAMP '2024-02-29 12:30:00'", "TIMESTAMP '2024-02-29 12:30:00'",
     "2024-02-29T12:30:00"),
    ("clock", "TIME '08:15:00'", "TIME '08:15:00'", "08:15:00"),
    ("span", "INTERVAL '1 minute 30 seconds'", "INTERVAL '1 minute 30 seconds'", 90.0),
    ("id", "'6f1c4c9e-3f0b-4a77-9d3b-2f3c9e2a1b00'::uuid",
     "'6f1c4c9e-3f0b-4a77-9d3b-2f3c9e2a1b00'::UUID", "6f1c4c9e-3f0b-4a77-9d3b-2f3c9e2a1b00"),
    ("raw", "decode('00ff10', 'hex')", "unhex('00ff10')", "AP8Q"),
    ("list", "ARRAY[1.25, 2]::numeric(5,2)[]", "[1.25, 2]::DECIMAL(5,2)[]", [1.25, 2.0]),
    ("flag", "true", "true", True),
    ("nothing", "NULL::text", "NULL::VARCHAR", None),
]  # fmt: skip


def expected_json() -> str:
    return json.dumps({name: value for name, _, _, value in VALUES}, sort_keys=True)


def select(dialect: int) -> str:
    return "SELECT " + ", ".join(f"{row[dialect]} AS {row[0]}" for row in VALUES)


def run_tool(tool: Any, config: dict[str, Any]) -> dict[str, Any]:
    async def scenario() -> dict[str, Any]:
        resources = Resources()
        ctx = tool_context(resources, step="values", task="sql")
        try:
            result: dict[str, Any] = await tool.run(config, ctx)
            return result
        finally:
            await resources.aclose()

    return asyncio.run(scenario())


def test_postgres_values_take_the_shared_json_form(pg_dsn: str) -> None:
    row = run_tool(PostgresTool(), {"dsn": pg_dsn, "query": select(1)})["rows"][0]
    assert json.dumps(row, sort_keys=True, allow_nan=False) == expected_json()


def test_duckdb_values_take_the_same_json_form() -> None:
    row = run_tool(DuckdbTool(), {"query": select(2)})["rows"][0]
    assert json.dumps(row, sort_keys=True, allow_nan=False) == expected_json()


def test_postgres_numeric_nan_and_infinity_are_text(pg_dsn: str) -> None:
    query = "SELECT 'NaN'::numeric AS n, 'Infinity'::numeric AS up, '-Infinity'::numeric AS down"
    row = run_tool(PostgresTool(), {"dsn": pg_dsn, "query": query})["rows"][0]
    assert row == {"n": "NaN", "up": "Infinity", "down": "-Infinity"}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("1E+2"), 100),  # a positive exponent has no fractional digits
        (Decimal("-0.5"), -0.5),
        (Decimal("sNaN"), "NaN"),
        (float("inf"), "Infinity"),
        ({1: (Decimal("3"), b"\x00")}, {"1": [3, "AA=="]}),
    ],
)
def test_edge_values(value: Any, expected: Any) -> None:
    assert json.dumps(json_value(value)) == json.dumps(expected)
