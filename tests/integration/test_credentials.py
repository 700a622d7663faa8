"""Credentials: key errors, and tools using stored credentials through the embedded runtime (a
real PostgreSQL and a local HTTP server). The store adapters and encryption at rest are in
tests/contract/test_credential_store.py."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest
from psycopg.conninfo import conninfo_to_dict

from noetl.config import Settings
from noetl.dsl.load import load_playbook
from noetl.errors import CredentialError, NotFoundError
from noetl.runtime.assemble import open_embedded
from noetl.store.credentials import Credentials, generate_key
from noetl.store.sqlite import SqliteCredentialStore, SqliteEventStore

KEY = generate_key()
PASSWORD = "pw-" + uuid.uuid4().hex


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
