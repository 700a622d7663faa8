"""Connections to PostgreSQL: naming a database without its secrets, opening the pool, and
turning driver errors into `StoreError`s.

Messages name the database as `user@host:port/dbname` and never carry the DSN itself: it may
hold a password. Driver messages are passed through with any password scrubbed out.
"""

from __future__ import annotations

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool

from noetl.errors import StoreError, StoreInputError, StoreUnavailableError

# Seconds to wait for a connection from the pool before an operation fails.
POOL_TIMEOUT = 30.0


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


def failure(doing: str, where: str, exc: BaseException, dsn: str) -> StoreError:
    """A StoreError saying what failed, on which database, and the driver's reason."""
    reason = scrub(str(exc).strip() or type(exc).__name__, dsn)
    message = f"{doing} on {where} failed: {reason}"
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


async def open_pool(dsn: str, where: str, min_size: int, max_size: int) -> AsyncConnectionPool:
    """An open pool of autocommit connections (writes open their own transactions)."""
    if min_size < 0 or max_size < max(min_size, 1):
        raise StoreError(
            f"{where}: pool sizes need 0 <= min_size <= max_size and max_size >= 1, "
            f"got min_size={min_size}, max_size={max_size}"
        )
    pool = AsyncConnectionPool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        kwargs={"autocommit": True},
        open=False,
        timeout=POOL_TIMEOUT,
        name="noetl-event-store",
    )
    try:
        await pool.open(wait=True, timeout=POOL_TIMEOUT)
    except psycopg.Error as exc:
        await pool.close()
        raise failure("opening a connection pool", where, exc, dsn) from None
    return pool
