"""Connections to PostgreSQL: naming a database without its secrets, opening the pool, and
turning driver errors into `StoreError`s.

Messages name the database as `user@host:port/dbname` and never carry the DSN itself: it may
hold a password. Driver messages are passed through with any password scrubbed out.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from noetl.config import refused_dsn_setting
from noetl.errors import (
    ConfigError,
    NoetlError,
    StoreError,
    StoreInputError,
    StoreUnavailableError,
)

# Seconds to wait for a connection from the pool before an operation fails.
POOL_TIMEOUT = 30.0
# ... and while the database cannot be reached (the pool's latest attempt to connect failed):
# a request is then answered at once (503) instead of after POOL_TIMEOUT, when every route
# would hang; a restarted database is noticed by the pool's next attempt to connect.
UNREACHABLE_WAIT = 1.0
# How long psycopg_pool retries one lost connection, its delay doubling, before it gives up and
# leaves the next request to start again from a 1 s delay. Its default (5 minutes) lets the
# delay grow past 2 minutes, so a pool could stay broken that long after the database is back.
RECONNECT_TIMEOUT = 10.0


def describe(dsn: str) -> str:
    """`PostgreSQL user@host:port/dbname`: what messages call the database (no password)."""
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.Error:
        # The parser's message quotes the DSN, which may hold a password: do not repeat it.
        raise StoreError("the PostgreSQL DSN is not a valid connection string") from None
    user = params.get("user") or "?"
    host = params.get("host") or params.get("hostaddr") or "localhost"
    port = params.get("port") or "5432"
    dbname = params.get("dbname") or user
    return f"PostgreSQL {user}@{host}:{port}/{dbname}"


def scrub(message: str, dsn: str) -> str:
    """`message` without the DSN's password (driver messages can quote connection details)."""
    try:
        password = conninfo_to_dict(dsn).get("password")
    except psycopg.Error:
        return message
    if password:
        message = message.replace(str(password), "***")
    return message.replace(dsn, "<dsn>")


def failure(doing: str, where: str, exc: BaseException, dsn: str) -> NoetlError:
    """A StoreError saying what failed, on which database, and the driver's reason; a
    ConfigError naming the setting when libpq refused one of the DSN's (`sslmode=bogus`):
    that is not a lost connection, and trying again cannot mend it."""
    reason = scrub(str(exc).strip() or type(exc).__name__, dsn)
    message = f"{doing} on {where} failed: {reason}"
    setting = refused_dsn_setting(reason) if isinstance(exc, psycopg.OperationalError) else None
    if setting is not None:
        return ConfigError(
            f"{doing} on {where} failed: the DSN's setting `{setting}` is invalid ({reason}); "
            "a configuration error: fix the DSN (--pg, NOETL_PG_DSN), retrying cannot help"
        )
    if isinstance(exc, psycopg.DataError):  # class 22: the value given, not the database
        return StoreInputError(message)
    if isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError)):
        return StoreUnavailableError(message)
    return StoreError(message)


async def connect(dsn: str, where: str) -> psycopg.AsyncConnection[TupleRow]:
    """One autocommit connection (migrations, `noetl db migrate`)."""
    try:
        return await psycopg.AsyncConnection.connect(dsn, autocommit=True)
    except psycopg.Error as exc:
        raise failure("connecting", where, exc, dsn) from None


class _Pool(AsyncConnectionPool):
    """psycopg's pool, failing fast while its database cannot be reached.

    It remembers why its latest attempt to connect failed (cleared by the next success); while
    it does, a request waits `UNREACHABLE_WAIT` for a connection, not `POOL_TIMEOUT`, and is
    told that the database cannot be reached and why.
    """

    _unreachable: str | None = None

    async def _connect(self, timeout: float | None = None) -> psycopg.AsyncConnection[Any]:
        # psycopg_pool's one place that opens a connection (initial, replacing, growing).
        try:
            conn = await super()._connect(timeout)
        except psycopg.Error as exc:
            self._unreachable = " ".join(str(exc).split()) or type(exc).__name__
            raise
        self._unreachable = None
        return conn

    async def getconn(self, timeout: float | None = None) -> psycopg.AsyncConnection[Any]:
        """A connection; see `AsyncConnectionPool.getconn`."""
        reason = self._unreachable
        if reason is None:
            return await super().getconn(timeout)
        try:
            return await super().getconn(min(timeout or UNREACHABLE_WAIT, UNREACHABLE_WAIT))
        except PoolTimeout:
            raise PoolTimeout(f"the database cannot be reached: {reason}") from None


async def open_pool(
    dsn: str, where: str, min_size: int, max_size: int, *, name: str, checked: bool = False
) -> AsyncConnectionPool:
    """An open pool of autocommit connections (writes open their own transactions).

    `name` is what psycopg_pool's log lines call the pool (`error connecting in 'NAME'`), so an
    operator reading them knows which store lost its connections.

    `checked`: each connection is tested (an empty query) before it is handed out, for the
    pools of the less busy stores, whose idle connections may have lost their server (a
    restarted database) long before anyone notices: without it, the first request of each of
    them after a restart fails. The event store's pool is too busy to pay a round trip per
    use, and its connections are in use all the time (a lost one fails one report, retried).
    """
    if min_size < 0 or max_size < max(min_size, 1):
        raise StoreError(
            f"{where}: pool sizes need 0 <= min_size <= max_size and max_size >= 1, "
            f"got min_size={min_size}, max_size={max_size}"
        )
    pool = _Pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        kwargs={"autocommit": True},
        open=False,
        timeout=POOL_TIMEOUT,
        reconnect_timeout=RECONNECT_TIMEOUT,
        check=_Pool.check_connection if checked else None,
        name=name,
    )
    try:
        await pool.open(wait=True, timeout=POOL_TIMEOUT)
    except psycopg.Error as exc:
        await pool.close()
        raise failure("opening a connection pool", where, exc, dsn) from None
    return pool
