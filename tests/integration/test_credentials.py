"""Credentials: both store adapters, encryption at rest, key errors, and tools using stored
credentials through the embedded runtime (a real PostgreSQL and a local HTTP server)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import textwrap
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from noetl.config import Settings
from noetl.dsl.load import load_playbook
from noetl.errors import CredentialError, NotFoundError
from noetl.runtime.assemble import open_embedded
from noetl.store.credentials import Credentials, CredentialStore, generate_key
from noetl.store.postgres.credentials import PostgresCredentialStore
from noetl.store.sqlite import SqliteCredentialStore, SqliteEventStore

T = TypeVar("T")
Opener = Callable[[], Awaitable[CredentialStore]]
KEY = generate_key()
PASSWORD = "pw-" + uuid.uuid4().hex


@pytest.fixture
def schema_dsn(pg_dsn: str) -> Iterator[str]:
    """A DSN whose tables live in a schema of this test's own (dropped afterwards)."""
    schema = f"creds_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    yield make_conninfo(pg_dsn, options=f"-c search_path={schema}")
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture(params=["sqlite", "postgres"])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Opener:
    if request.param == "sqlite":
        path = tmp_path / "noetl.db"

        async def sqlite() -> CredentialStore:
            return SqliteCredentialStore.open(path)

        return sqlite
    request.applymarker(pytest.mark.integration)
    dsn = request.getfixturevalue("schema_dsn")

    async def postgres() -> CredentialStore:
        return await PostgresCredentialStore.open(dsn, max_size=2)

    return postgres


def using(opener: Opener, body: Callable[[CredentialStore], Awaitable[T]]) -> T:
    async def main() -> T:
        store = await opener()
        try:
            return await body(store)
        finally:
            await store.close()

    return asyncio.run(main())


# -- the store port ------------------------------------------------------------------------------


def test_put_get_list_delete(open_store):
    async def body(store: CredentialStore) -> Any:
        new = await store.put("b", "generic", b"token-1")
        await store.put("a", "http", b"token-a")
        replaced = await store.put("b", "postgres", b"token-2")
        got = await store.get("b")
        listed = await store.list()
        deleted, again = await store.delete("b"), await store.delete("b")
        return new, replaced, got, listed, deleted, again, await store.get("b")

    new, replaced, got, listed, deleted, again, gone = using(open_store, body)
    assert (new, replaced) == (True, False)
    assert (got.info.name, got.info.type, got.token) == ("b", "postgres", b"token-2")
    assert got.info.updated_at >= got.info.created_at
    assert [(i.name, i.type) for i in listed] == [("a", "http"), ("b", "postgres")]
    assert (deleted, again, gone) == (True, False, None)


def test_credentials_round_trip_and_survive_reopening(open_store):
    data = {"host": "db", "user": "app", "password": PASSWORD}
    using(open_store, lambda s: Credentials(s, KEY).set("pg", "postgres", data))
    assert using(open_store, lambda s: Credentials(s, KEY).get("pg")) == data


def test_values_are_encrypted_at_rest_in_sqlite(tmp_path):
    path = tmp_path / "noetl.db"
    store = SqliteCredentialStore.open(path)
    asyncio.run(Credentials(store, KEY).set("api", "generic", {"token": PASSWORD}))
    asyncio.run(store.close())
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("noetl.db"))
    assert b"api" in raw  # the name is in clear (it is listed)...
    assert PASSWORD.encode() not in raw  # ...the value is not, in the file or its WAL
    with sqlite3.connect(path) as conn:
        sealed = conn.execute("SELECT sealed FROM credentials").fetchone()[0]
    assert PASSWORD.encode() not in bytes(sealed)


@pytest.mark.integration
def test_values_are_encrypted_at_rest_in_postgres(schema_dsn):
    async def body() -> None:
        store = await PostgresCredentialStore.open(schema_dsn)
        try:
            await Credentials(store, KEY).set("api", "generic", {"token": PASSWORD})
        finally:
            await store.close()

    asyncio.run(body())
    with psycopg.connect(schema_dsn) as conn:
        row = conn.execute("SELECT name, sealed::text FROM credentials").fetchone()
    assert row is not None and row[0] == "api"
    assert PASSWORD not in row[1]


# -- keys ----------------------------------------------------------------------------------------


def sqlite_credentials(tmp_path: Path, key: str | None) -> Credentials:
    return Credentials(SqliteCredentialStore.open(tmp_path / "noetl.db"), key)


def test_missing_key_is_a_clear_error_but_listing_still_works(tmp_path):
    creds = sqlite_credentials(tmp_path, None)
    expected = "NOETL_SECRET_KEY is not set; generate one with `noetl credentials keygen`"
    with pytest.raises(CredentialError) as raised:
        asyncio.run(creds.set("a", "generic", {"token": PASSWORD}))
    assert str(raised.value) == expected
    asyncio.run(sqlite_credentials(tmp_path, KEY).set("a", "generic", {"token": PASSWORD}))
    with pytest.raises(CredentialError, match="NOETL_SECRET_KEY is not set"):
        asyncio.run(creds.get("a"))
    assert [info.name for info in asyncio.run(creds.list())] == ["a"]


def test_wrong_key_is_refused_without_revealing_either_key(tmp_path):
    asyncio.run(sqlite_credentials(tmp_path, KEY).set("a", "generic", {"token": PASSWORD}))
    other = generate_key()
    with pytest.raises(CredentialError) as raised:
        asyncio.run(sqlite_credentials(tmp_path, other).get("a"))
    message = str(raised.value)
    assert "credential 'a' cannot be decrypted" in message
    assert KEY not in message and other not in message and PASSWORD not in message


def test_malformed_key_is_refused_without_repeating_it(tmp_path):
    bad = "not-a-fernet-key-" + uuid.uuid4().hex
    with pytest.raises(CredentialError) as raised:
        asyncio.run(sqlite_credentials(tmp_path, bad).set("a", "generic", {"token": "x"}))
    assert "NOETL_SECRET_KEY is not a valid key" in str(raised.value)
    assert bad not in str(raised.value)


def test_a_sealed_value_moved_to_another_name_is_refused(tmp_path):
    creds = sqlite_credentials(tmp_path, KEY)
    asyncio.run(creds.set("a", "generic", {"token": PASSWORD}))
    asyncio.run(creds.set("b", "generic", {"token": "other"}))
    with sqlite3.connect(tmp_path / "noetl.db") as conn:
        conn.execute(
            "UPDATE credentials SET sealed = (SELECT sealed FROM credentials WHERE name = 'a') "
            "WHERE name = 'b'"
        )
    with pytest.raises(CredentialError, match="belongs to another name"):
        asyncio.run(creds.get("b"))


def test_unknown_credential_names_it(tmp_path):
    with pytest.raises(CredentialError, match="credential 'nope' not found"):
        asyncio.run(sqlite_credentials(tmp_path, KEY).get("nope"))
    with pytest.raises(NotFoundError, match="credential 'nope' not found"):
        asyncio.run(sqlite_credentials(tmp_path, KEY).delete("nope"))


@pytest.mark.parametrize(
    ("name", "type_", "data", "message"),
    [
        ("a b", "generic", {"k": "v"}, "invalid credential name 'a b'"),
        ("a", "ftp", {"k": "v"}, "unknown type 'ftp'"),
        ("a", "generic", {}, "non-empty JSON object"),
        ("a", "postgres", {"password": PASSWORD}, "needs `dsn` or `host`"),
        ("a", "http", {"token": PASSWORD}, "needs `type`: bearer, basic or api_key"),
        ("a", "http", {"type": "basic", "password": PASSWORD}, "(basic) lacks username"),
    ],
)
def test_data_a_type_cannot_use_is_refused_naming_fields_not_values(
    tmp_path, name, type_, data, message
):
    with pytest.raises(CredentialError) as raised:
        asyncio.run(sqlite_credentials(tmp_path, KEY).set(name, type_, data))
    assert message in str(raised.value)
    assert PASSWORD not in str(raised.value)


# -- tools using stored credentials in the embedded runtime ------------------------------------


HEAD = "apiVersion: noetl.io/v2\nkind: Playbook\nmetadata: {name: creds}\n"


def run_embedded(
    db: Path, body: str, credentials: dict[str, tuple[str, dict[str, Any]]]
) -> tuple[Any, list[dict[str, Any]]]:
    """Store `credentials`, run the playbook (HEAD + body) embedded; its summary and events."""
    settings = Settings.load(env={}, db=db, secret_key=KEY)

    async def main() -> tuple[Any, list[dict[str, Any]]]:
        store = SqliteCredentialStore.open(db)
        for name, (type_, data) in credentials.items():
            await Credentials(store, KEY).set(name, type_, data)
        await store.close()
        runtime = await open_embedded(settings)
        try:
            summary = await runtime.run(load_playbook(HEAD + textwrap.dedent(body)))
        finally:
            await runtime.close()
        log = SqliteEventStore.open(db)
        try:
            events = await log.read(summary.execution_id)
        finally:
            await log.close()
        return summary, [event.to_dict() for event in events]

    return asyncio.run(main())


@pytest.mark.integration
def test_postgres_tool_connects_with_a_stored_credential_and_the_password_is_masked(
    tmp_path, pg_dsn
):
    params = conninfo_to_dict(pg_dsn)
    password = str(params.get("password") or "")
    data = {k: str(v) for k, v in params.items() if k in ("host", "port", "user", "dbname")}
    data["password"] = password or "unused-by-trust-auth"
    summary, events = run_embedded(
        tmp_path / "noetl.db",
        """
        workflow:
          - step: start
            tool:
              - secret: {kind: secrets, name: pg_main, key: password}
              - q:
                  kind: postgres
                  auth: pg_main
                  query: "SELECT current_user AS who, %(p)s::text AS echoed"
                  params: {p: "{{ 'pass:' ~ _prev.value }}"}
        """,
        {"pg_main": ("postgres", data)},
    )
    assert summary.status == "done", summary.error
    assert summary.result["rows"] == [{"who": data["user"], "echoed": "pass:***"}]
    assert data["password"] not in json.dumps(events)


def test_unknown_credential_in_a_tool_fails_naming_step_task_field_and_credential(tmp_path):
    summary, _ = run_embedded(
        tmp_path / "noetl.db",
        """
        workflow:
          - step: fetch
            tool:
              - get: {kind: http, url: "http://127.0.0.1:9/", auth: no_such_cred}
        """,
        {},
    )
    assert summary.status == "failed"
    message = summary.error["message"]
    assert "'fetch'" in message and "'get'" in message and "auth" in message
    assert "credential 'no_such_cred' not found" in message


@pytest.mark.integration
def test_http_tool_sends_a_stored_bearer_token_and_the_echo_is_masked(tmp_path, http_server):
    token = "bearer-" + uuid.uuid4().hex
    summary, events = run_embedded(
        tmp_path / "noetl.db",
        f"""
        workflow:
          - step: start
            tool:
              - call: {{kind: http, url: "{http_server.url}/echo", auth: api}}
        """,
        {"api": ("http", {"type": "bearer", "token": token})},
    )
    assert summary.status == "done", summary.error
    assert summary.result["data"]["headers"]["authorization"] == "Bearer ***"
    assert token not in json.dumps(events)


def test_secrets_tool_reads_a_stored_credential_field(tmp_path):
    summary, events = run_embedded(
        tmp_path / "noetl.db",
        """
        workflow:
          - step: start
            tool:
              - read: {kind: secrets, name: api, key: token}
              - use:
                  kind: python
                  args: {token: "{{ _prev.value }}"}
                  code: |
                    result = {"ok": token.startswith("tok-"), "token": token}
        """,
        {"api": ("generic", {"token": PASSWORD.replace("pw-", "tok-"), "region": "eu"})},
    )
    assert summary.status == "done", summary.error
    assert summary.result == {"ok": True, "token": "***"}
    assert PASSWORD.replace("pw-", "tok-") not in json.dumps(events)


def test_secrets_tool_names_the_fields_of_a_credential_that_lacks_the_key(tmp_path):
    summary, _ = run_embedded(
        tmp_path / "noetl.db",
        """
        workflow:
          - step: start
            tool:
              - read: {kind: secrets, name: api, key: password}
        """,
        {"api": ("generic", {"token": PASSWORD, "region": "eu-west"})},
    )
    message = summary.error["message"]
    assert message.endswith(
        "step 'start' task 'read' field 'key': credential 'api' has no field 'password' "
        "(fields: region, token)"
    )
