"""`postgres`: run SQL on PostgreSQL in one transaction (psycopg 3, async, pooled).

Config:
- `auth`: a credential name (resolved by `noetl.tools.credentials.lookup_credential`; its data holds
  either `dsn` or `host`/`port`/`user`/`password`/`dbname`), a DSN string, or such a mapping;
  `dsn`: a DSN string. Exactly one of the two.
- `query` (one SQL string) or `queries` (a list; an item is a SQL string or
  `{query, params}`).
- `params`: a list (for `%s` placeholders) or a mapping (for `%(name)s`), bound by the driver,
  never formatted into the SQL. It applies to `query`, and to every item of `queries` that has
  no `params` of its own.

All statements of a task run in one transaction: committed at the end, rolled back on any
error. A SQL string may hold several statements separated by `;` when it has no params.

Result: `{rows, columns, row_count}`: `rows` (a list of `{column: value}`) and `columns` come
from the last statement that returned rows; `row_count` is the row count of the last statement
(rows returned by a SELECT, rows affected by INSERT/UPDATE/DELETE, 0 for DDL). Values take their
JSON form by the rules shared with the `duckdb` tool (`noetl.tools.sql_values`): numeric by its
scale -> int or float, date/time -> ISO 8601 string, interval -> seconds, uuid -> string, bytea
-> base64 string, other types -> their text.

Errors are `ToolError`s: SQL errors have kind `postgres` and `code` = SQLSTATE (serialization
failures and deadlocks are retryable); an unreachable server, a lost connection or a pool
timeout has kind `connection` (retryable); a connection setting libpq refuses
(`sslmode=bogus`, `port=abc`) has kind `config`, naming it (not retryable); a statement
cancelled by the task timeout has kind `timeout` (retryable). Messages never contain the DSN
or the password.

One pool per connection target is kept in `ctx.resources.pools` and reused by later tasks; the
worker closes it through `ctx.resources.closers`.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from noetl.config import refused_dsn_setting
from noetl.errors import ToolError
from noetl.tools.base import Resources, ToolContext
from noetl.tools.credentials import lookup_credential
from noetl.tools.sql_values import json_value

Params = Sequence[Any] | Mapping[str, Any] | None

_POOL_MAX_SIZE = 10
_ACQUIRE_TIMEOUT = 15.0  # seconds to wait for a pooled connection
_CONNECT_TIMEOUT = 10  # libpq connect_timeout, when the DSN does not set one
_LOCK_KEY = "postgres:lock"
# libpq keywords a credential may carry, with the aliases people commonly use.
_CONN_KEYS = {
    "host": "host",
    "hostaddr": "hostaddr",
    "port": "port",
    "user": "user",
    "username": "user",
    "password": "password",
    "dbname": "dbname",
    "database": "dbname",
    "sslmode": "sslmode",
    "sslrootcert": "sslrootcert",
    "connect_timeout": "connect_timeout",
    "application_name": "application_name",
    "options": "options",
}
_RETRYABLE_SQLSTATES = {"40001", "40P01", "53300", "55P03"}  # serialization, deadlock, busy
_CONNECTION_SQLSTATES = {"57P01", "57P02", "57P03"}  # server shutting down or starting


class PostgresTool:
    """Runs a task's SQL statements in one transaction on a pooled connection."""

    kind: ClassVar[str] = "postgres"

    async def run(self, config: Mapping[str, Any], ctx: ToolContext) -> Any:
        """Run the statements; return `{rows, columns, row_count}` or raise ToolError."""
        where = f"step '{ctx.step}' task '{ctx.task}'"
        statements = _statements(config, where)
        target = await _target(config, ctx, where)
        try:
            pool = await _pool(target, ctx.resources)
        except psycopg.Error as exc:
            raise _connection_error(exc, where, target) from None
        return await _execute(pool, statements, ctx.timeout, where, target)


@dataclass(frozen=True)
class _Target:
    """A resolved connection string and the secrets that must never appear in messages."""

    conninfo: str
    secrets: tuple[str, ...]

    def redact(self, text: str) -> str:
        """`text` with every secret replaced by `***`."""
        for secret in sorted(self.secrets, key=len, reverse=True):
            if secret:
                text = text.replace(secret, "***")
        return text


# --- config --------------------------------------------------------------------------------


def _statements(config: Mapping[str, Any], where: str) -> list[tuple[str, Params]]:
    """The (sql, params) pairs of `query` or `queries`."""
    shared = _params(config.get("params"), where, "params")
    query, queries = config.get("query"), config.get("queries")
    if (query is None) == (queries is None):
        raise ToolError(f"{where}: give exactly one of `query` or `queries`", kind="config")
    if query is not None:
        return [(_sql(query, where, "query"), shared)]
    if not isinstance(queries, list) or not queries:
        raise ToolError(f"{where}: `queries` must be a non-empty list", kind="config")
    statements: list[tuple[str, Params]] = []
    for i, item in enumerate(queries):
        field = f"queries[{i}]"
        if isinstance(item, Mapping):
            own = _params(item.get("params"), where, f"{field}.params")
            sql = _sql(item.get("query"), where, f"{field}.query")
            statements.append((sql, own if "params" in item else shared))
        else:
            statements.append((_sql(item, where, field), shared))
    return statements


def _sql(value: Any, where: str, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ToolError(f"{where}: `{field}` must be a non-empty SQL string", kind="config")
    return value


def _params(value: Any, where: str, field: str) -> Params:
    if value is None or isinstance(value, Mapping):
        return value
    if isinstance(value, list | tuple):
        return list(value)
    raise ToolError(
        f"{where}: `{field}` must be a list (for %s placeholders) or a mapping "
        f"(for %(name)s placeholders), not {type(value).__name__}",
        kind="config",
    )


async def _target(config: Mapping[str, Any], ctx: ToolContext, where: str) -> _Target:
    """Resolve `auth` / `dsn` into a connection string."""
    auth, dsn = config.get("auth"), config.get("dsn")
    if auth is not None and dsn is not None:
        raise ToolError(f"{where}: give either `auth` or `dsn`, not both", kind="config")
    if auth is None and dsn is None:
        raise ToolError(
            f"{where}: `auth` (a credential name or a DSN) or `dsn` is required", kind="config"
        )
    field = "auth" if auth is not None else "dsn"
    source = auth if auth is not None else dsn
    if isinstance(source, Mapping):
        return _from_mapping(source, where, f"`{field}`")
    if not isinstance(source, str) or not source.strip():
        raise ToolError(f"{where}: `{field}` must be a non-empty string", kind="config")
    if field == "dsn" or _looks_like_dsn(source):
        return _from_dsn(source, where, f"`{field}`")
    data = await lookup_credential(ctx, source, field)
    return _from_mapping(data, where, f"credential {source!r}")


def _looks_like_dsn(text: str) -> bool:
    """A URI or a `key=value` conninfo, as opposed to a credential name."""
    return "://" in text or "=" in text


def _from_mapping(data: Mapping[str, Any], where: str, what: str) -> _Target:
    """A target from `{dsn}` or from host/port/user/password/dbname."""
    if isinstance(data.get("dsn"), str):
        return _from_dsn(data["dsn"], where, what)
    params = {_CONN_KEYS[k]: str(v) for k, v in data.items() if k in _CONN_KEYS and v is not None}
    if "host" not in params and "hostaddr" not in params:
        raise ToolError(f"{where}: {what} has neither `dsn` nor `host`", kind="config")
    password = params.get("password", "")
    try:
        return _from_dsn(make_conninfo("", **params), where, what, extra_secret=password)
    except psycopg.ProgrammingError as exc:
        target = _Target("", (password,))
        message = target.redact(str(exc))
        raise ToolError(
            f"{where}: {what}: invalid connection data: {message}", kind="config"
        ) from None


def _from_dsn(dsn: str, where: str, what: str, extra_secret: str = "") -> _Target:
    """Check `dsn` and give it a connect timeout when it has none."""
    try:
        parts = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError as exc:
        message = _Target("", (dsn, extra_secret)).redact(str(exc))
        raise ToolError(f"{where}: {what} is not a valid DSN: {message}", kind="config") from None
    conninfo = dsn
    if "connect_timeout" not in parts:
        conninfo = make_conninfo(dsn, connect_timeout=_CONNECT_TIMEOUT)
    password = str(parts.get("password") or "")
    return _Target(conninfo, (dsn, conninfo, password, extra_secret))


# --- pool and transaction ------------------------------------------------------------------


async def _pool(target: _Target, resources: Resources) -> AsyncConnectionPool:
    """The worker's pool for this target, created on first use."""
    # Keyed by a hash so the DSN (and its password) is not kept in another readable place.
    key = "postgres:" + hashlib.sha256(target.conninfo.encode()).hexdigest()
    pool = resources.pools.get(key)
    if isinstance(pool, AsyncConnectionPool):
        return pool
    lock = resources.pools.setdefault(_LOCK_KEY, asyncio.Lock())
    async with lock:
        pool = resources.pools.get(key)
        if pool is None:
            # One direct connection first: a pool only reports "timeout" when the server is
            # unreachable, while this reports libpq's reason (refused, unknown host, auth...).
            probe = await psycopg.AsyncConnection.connect(target.conninfo)
            await probe.close()
            pool = AsyncConnectionPool(
                target.conninfo, min_size=1, max_size=_POOL_MAX_SIZE, open=False
            )
            try:
                # Waiting for the first connection lets sequential tasks share that one.
                await pool.open(wait=True, timeout=_ACQUIRE_TIMEOUT)
            except BaseException:
                await pool.close()
                raise
            resources.pools[key] = pool
            resources.closers.append(pool.close)
    return pool


async def _execute(
    pool: AsyncConnectionPool,
    statements: list[tuple[str, Params]],
    timeout: float | None,
    where: str,
    target: _Target,
) -> dict[str, Any]:
    """Run every statement in one transaction and collect the result."""
    phase = "connecting"
    result: dict[str, Any] = {"rows": [], "columns": [], "row_count": 0}
    try:
        wait = min(timeout, _ACQUIRE_TIMEOUT) if timeout else _ACQUIRE_TIMEOUT
        async with pool.connection(timeout=wait) as conn, conn.transaction():
            cursor = conn.cursor()
            if timeout:
                # The server stops the statement too when the task's time is up.
                limit = f"{max(1, int(timeout * 1000))}ms"
                await cursor.execute("SELECT set_config('statement_timeout', %s, true)", [limit])
            for i, (sql, params) in enumerate(statements):
                phase = f"query {i + 1} of {len(statements)}"
                await cursor.execute(sql, params)
                result = await _collect(cursor, result)
            phase = "commit"
    except psycopg.Error as exc:
        if phase == "connecting":
            raise _connection_error(exc, where, target) from None
        raise _sql_error(exc, phase, where, target) from None
    return result


async def _collect(cursor: psycopg.AsyncCursor[Any], result: dict[str, Any]) -> dict[str, Any]:
    """Fold the results of the statement just executed (one per `;`) into `result`."""
    while True:
        count = max(cursor.rowcount, 0)
        if cursor.description is not None:
            columns = [column.name for column in cursor.description]
            rows = [
                {name: json_value(value) for name, value in zip(columns, row, strict=True)}
                for row in await cursor.fetchall()
            ]
            result = {"rows": rows, "columns": columns, "row_count": count}
        else:
            result = {**result, "row_count": count}
        if not cursor.nextset():
            return result


# --- errors and values ---------------------------------------------------------------------


def _connection_error(exc: Exception, where: str, target: _Target) -> ToolError:
    """Could not get a connection: retryable, with libpq's reason and no secrets; a setting
    libpq refused (`sslmode=bogus`) is a `config` error instead, not retried."""
    if isinstance(exc, PoolTimeout):
        reason = "no connection available from the pool in time (server unreachable or busy)"
    else:
        reason = " ".join(str(exc).split())
    setting = refused_dsn_setting(reason) if isinstance(exc, psycopg.OperationalError) else None
    if setting is not None:
        message = (
            f"{where}: the PostgreSQL connection setting `{setting}` is invalid: "
            f"{target.redact(reason)}"
        )
        return ToolError(message, kind="config")
    message = f"{where}: cannot connect to PostgreSQL: {target.redact(reason)}"
    return ToolError(message, kind="connection", retryable=True)


def _sql_error(exc: psycopg.Error, phase: str, where: str, target: _Target) -> ToolError:
    """A failure while running statements, classified by SQLSTATE."""
    sqlstate = exc.sqlstate
    diag = exc.diag
    text = diag.message_primary or " ".join(str(exc).split())
    if diag.message_detail:
        text = f"{text} ({diag.message_detail})"
    text = target.redact(text)
    code = f" [SQLSTATE {sqlstate}]" if sqlstate else ""
    message = f"{where}: PostgreSQL error in {phase}{code}: {text}"
    lost = sqlstate is None and isinstance(exc, psycopg.OperationalError)
    if lost or (sqlstate or "").startswith("08") or sqlstate in _CONNECTION_SQLSTATES:
        return ToolError(message, kind="connection", retryable=True, code=sqlstate)
    if sqlstate == "57014":  # query_canceled: the statement_timeout set from the task timeout
        return ToolError(message, kind="timeout", retryable=True, code=sqlstate)
    retryable = sqlstate in _RETRYABLE_SQLSTATES
    return ToolError(message, kind="postgres", retryable=retryable, code=sqlstate)
