"""The `duckdb` tool kind: SQL over DuckDB, in memory or on a database file.

Fields (already rendered):
- `database`: a file path, or ":memory:" (the default: a fresh database per task).
- `query` (one SQL text) or `queries` (a list run in order in one transaction; an item is a SQL
  text or `{query, params}`). The result is the last statement's.
- `params`: bound values for `query`, a list (`?` / `$1`) or a mapping (`$name`); never formatted
  into the SQL. With `queries`, give params per item instead.
- `attach`: a list of `{name, credential | dsn, type: postgres}`; each PostgreSQL database is
  attached under `name` through DuckDB's postgres extension (which must be installed; offline
  machines need it pre-installed in ~/.duckdb/extensions).

Input relations: every task arg (`args:`) whose value is a list of mappings is registered as a
table named after the arg key before the queries run, so earlier results can be queried. To
query the previous task's rows, pass them in: `args: {_prev: "{{ _prev.rows }}"}` then
`query: SELECT * FROM _prev`; likewise `args: {items: "{{ fetch.results }}"}`. Columns are
inferred from the values (nested mappings become STRUCTs); an empty list registers nothing.

Result: `{rows: [mappings], row_count, columns}` with values in their JSON form, by the same rules
as the `postgres` tool (`noetl.tools.sql_values`: DECIMAL by its scale -> int or float, date/time
-> ISO text, UUID -> text, bytes -> base64, intervals -> seconds). DuckDB errors
raise ToolError kind "duckdb" whose `code` is the DuckDB exception class (ParserException...).
DuckDB blocks, so the work runs in a thread; a cancelled task interrupts its query.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import duckdb

from noetl.errors import ToolError
from noetl.tools.base import ToolContext
from noetl.tools.credentials import lookup_credential
from noetl.tools.sql_values import json_value
from noetl.tools.threads import run_in_thread

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass
class _Statement:
    sql: str
    params: Any
    field: str  # where it came from, for messages: "query" or "queries[2]"


@dataclass
class _Attachment:
    name: str
    dsn: str
    field: str


@dataclass
class _Plan:
    """A validated task: everything the worker thread needs, no templates or credentials left."""

    where: str
    database: str
    statements: list[_Statement]
    relations: dict[str, list[Mapping[str, Any]]]
    attachments: list[_Attachment] = field(default_factory=list)


class DuckdbTool:
    """Runs SQL on DuckDB and returns the last statement's rows."""

    kind: ClassVar[str] = "duckdb"

    async def run(self, config: Mapping[str, Any], ctx: ToolContext) -> Any:
        """Validate `config`, resolve attach credentials, then run the SQL in a thread."""
        plan = _Plan(
            where=f"step {ctx.step!r} task {ctx.task!r}",
            database=_database(config.get("database"), ctx),
            statements=_statements(config, ctx),
            relations=_relations(config.get("args")),
            attachments=[await _attachment(item, i, ctx) for i, item in _attach_items(config, ctx)],
        )
        run = _Run(plan)
        try:
            return await run_in_thread(run.execute)
        except asyncio.CancelledError:
            run.interrupt()  # the thread cannot be killed; stop its query instead
            raise


def _config_error(ctx: ToolContext, field: str, message: str) -> ToolError:
    return ToolError(
        f"step {ctx.step!r} task {ctx.task!r} field {field!r}: {message}", kind="config"
    )


def _database(value: Any, ctx: ToolContext) -> str:
    if value is None or value == "":
        return ":memory:"
    if not isinstance(value, str | os.PathLike):
        raise _config_error(ctx, "database", "expected a file path or ':memory:'")
    return os.fspath(value)


def _statements(config: Mapping[str, Any], ctx: ToolContext) -> list[_Statement]:
    query, queries, params = config.get("query"), config.get("queries"), config.get("params")
    if (query is None) == (queries is None):
        raise _config_error(ctx, "query", "give exactly one of query, queries")
    _check_params(params, "params", ctx)
    if query is not None:
        return [_statement(query, params, "query", ctx)]
    if not isinstance(queries, list) or not queries:
        raise _config_error(ctx, "queries", "expected a non-empty list of SQL texts")
    if params is not None:
        raise _config_error(ctx, "params", "with queries, give params per item: {query, params}")
    statements = []
    for i, item in enumerate(queries):
        where = f"queries[{i}]"
        if isinstance(item, Mapping):
            _check_params(item.get("params"), f"{where}.params", ctx)
            statements.append(_statement(item.get("query"), item.get("params"), where, ctx))
        else:
            statements.append(_statement(item, None, where, ctx))
    return statements


def _statement(sql: Any, params: Any, where: str, ctx: ToolContext) -> _Statement:
    if not isinstance(sql, str) or not sql.strip():
        raise _config_error(ctx, where, "expected a SQL text")
    return _Statement(sql, params, where)


def _check_params(params: Any, where: str, ctx: ToolContext) -> None:
    if params is not None and (
        isinstance(params, str | bytes) or not isinstance(params, Sequence | Mapping)
    ):
        raise _config_error(ctx, where, "expected a list (for ? / $1) or a mapping (for $name)")


def _relations(args: Any) -> dict[str, list[Mapping[str, Any]]]:
    """The task args that are non-empty lists of mappings: each becomes a table."""
    if not isinstance(args, Mapping):
        return {}
    return {
        str(name): value
        for name, value in args.items()
        if isinstance(value, list) and value and all(isinstance(r, Mapping) for r in value)
    }


def _attach_items(config: Mapping[str, Any], ctx: ToolContext) -> list[tuple[int, Any]]:
    items = config.get("attach")
    if items is None:
        return []
    if not isinstance(items, list):
        raise _config_error(ctx, "attach", "expected a list of {name, credential | dsn, type}")
    return list(enumerate(items))


async def _attachment(item: Any, index: int, ctx: ToolContext) -> _Attachment:
    """Validate one `attach` entry and resolve its DSN (from the credential store if named)."""
    where = f"attach[{index}]"
    if not isinstance(item, Mapping):
        raise _config_error(ctx, where, "expected {name, credential | dsn, type: postgres}")
    name, kind = item.get("name"), str(item.get("type", "postgres")).lower()
    if not isinstance(name, str) or not IDENTIFIER.match(name):
        raise _config_error(ctx, f"{where}.name", f"{name!r} is not a plain SQL identifier")
    if kind != "postgres":
        raise _config_error(ctx, f"{where}.type", f"unsupported type {kind!r} (only postgres)")
    if ("dsn" in item) == ("credential" in item):
        raise _config_error(ctx, where, "give exactly one of credential, dsn")
    if "dsn" in item:
        return _Attachment(name, str(item["dsn"]), where)
    return _Attachment(name, await _credential_dsn(str(item["credential"]), where, ctx), where)


async def _credential_dsn(name: str, where: str, ctx: ToolContext) -> str:
    field = f"{where}.credential"
    data = await lookup_credential(ctx, name, field)
    if data.get("dsn"):
        return str(data["dsn"])
    keys = ("host", "port", "user", "password", "dbname")
    parts = [f"{k}={_libpq_quote(str(data[k]))}" for k in keys if data.get(k) is not None]
    if not parts:
        message = f"credential {name!r} has no dsn nor host"
        raise ToolError(
            f"step {ctx.step!r} task {ctx.task!r} field {field!r}: {message}", kind="credential"
        )
    return " ".join(parts)


def _libpq_quote(value: str) -> str:
    """A libpq key=value value, quoted when it needs to be."""
    if value and not re.search(r"[\s'\\]", value):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class _Run:
    """One task's work on its own DuckDB connection, executed in a worker thread."""

    def __init__(self, plan: _Plan) -> None:
        self.plan = plan
        self.connection: duckdb.DuckDBPyConnection | None = None

    def interrupt(self) -> None:
        """Stop the running query (called from the event loop when the task is cancelled)."""
        if self.connection is not None:
            with contextlib.suppress(duckdb.Error):  # already closed: nothing left to stop
                self.connection.interrupt()

    def execute(self) -> dict[str, Any]:
        """Open the database, register inputs, attach, run the statements in one transaction."""
        plan = self.plan
        try:
            self.connection = con = duckdb.connect(plan.database)
        except duckdb.Error as exc:
            raise _duckdb_error(plan, "database", exc) from None
        try:
            # No progress bar: long queries would draw it on the worker's terminal.
            con.execute("SET enable_progress_bar = false")
            for name, rows in plan.relations.items():
                _register(con, name, rows, plan)
            for attachment in plan.attachments:
                _attach(con, attachment, plan)
            return _transaction(con, plan)
        finally:
            con.close()


def _register(
    con: duckdb.DuckDBPyConnection, name: str, rows: list[Mapping[str, Any]], plan: _Plan
) -> None:
    """Load `rows` as a temp table; DuckDB's JSON reader infers the column types."""
    fd, path = tempfile.mkstemp(prefix="noetl-duckdb-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(rows, out, default=str)
        table = '"' + name.replace('"', '""') + '"'
        con.execute(
            f"CREATE TEMP TABLE {table} AS SELECT * FROM read_json(?, format='array', "
            "sample_size=-1)",
            [path],
        )
    except duckdb.Error as exc:
        raise _duckdb_error(plan, f"args.{name}", exc) from None
    finally:
        os.unlink(path)


def _attach(con: duckdb.DuckDBPyConnection, attachment: _Attachment, plan: _Plan) -> None:
    try:
        con.execute("LOAD postgres")  # DuckDB downloads it when missing (needs network once)
    except duckdb.Error as exc:
        raise ToolError(
            f"{plan.where} field {attachment.field!r}: the DuckDB postgres extension is not "
            "installed and could not be installed (offline?); run `INSTALL postgres` once with "
            f"network access. DuckDB said: {exc}",
            kind="duckdb",
            code=type(exc).__name__,
        ) from None
    # ATTACH takes no bound parameters; the DSN is quoted as a SQL string literal.
    literal = "'" + attachment.dsn.replace("'", "''") + "'"
    try:
        con.execute(f"ATTACH {literal} AS {attachment.name} (TYPE postgres)")
    except duckdb.Error as exc:
        raise _duckdb_error(
            plan, attachment.field, exc, secrets=_dsn_secrets(attachment.dsn)
        ) from None


def _transaction(con: duckdb.DuckDBPyConnection, plan: _Plan) -> dict[str, Any]:
    con.begin()
    try:
        for statement in plan.statements:
            try:
                if statement.params is None:
                    con.execute(statement.sql)
                else:
                    con.execute(statement.sql, statement.params)
            except duckdb.Error as exc:
                raise _duckdb_error(plan, statement.field, exc) from None
        result = _fetch(con)
        con.commit()
    except BaseException:
        # The failure may have ended the transaction already; keep the original error.
        with contextlib.suppress(duckdb.Error):
            con.rollback()
        raise
    return result


def _fetch(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    if con.description is None:  # the last statement returned nothing (e.g. SET)
        return {"rows": [], "row_count": 0, "columns": []}
    columns = [d[0] for d in con.description]
    rows = [dict(zip(columns, map(json_value, row), strict=True)) for row in con.fetchall()]
    return {"rows": rows, "row_count": len(rows), "columns": columns}


def _dsn_secrets(dsn: str) -> list[str]:
    """The parts of a DSN that must not reach a message: itself and its password."""
    found = re.findall(r"password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)", dsn)
    found += re.findall(r"://[^:/@\s]+:([^@\s]+)@", dsn)
    return [dsn, *found]


def _duckdb_error(
    plan: _Plan, where: str, exc: duckdb.Error, secrets: Sequence[str] = ()
) -> ToolError:
    message = str(exc)
    for secret in secrets:
        message = message.replace(secret, "***")
    return ToolError(
        f"{plan.where} field {where!r}: {message}",
        kind="duckdb",
        code=type(exc).__name__,
        # A write-write conflict with another transaction may succeed when run again.
        retryable=isinstance(exc, duckdb.TransactionException),
    )
