"""/api/v2/credentials on a real uvicorn server (SQLite, and PostgreSQL), and `RemoteCredentials`,
the client distributed workers and `noetl credentials --server` use.

Every refusal is checked to store nothing, and no answer but `reveal` may carry a secret.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_server_api import TOKEN

from noetl.client.credentials import RemoteCredentials
from noetl.client.transport import ServerClient
from noetl.config import Settings
from noetl.errors import CredentialError, NotFoundError
from noetl.store.credentials import generate_key
from support.live_server import LiveServer, api_client

KEY = generate_key()
SECRET = "s3cret-" + uuid.uuid4().hex


def client(server: LiveServer, token: str | None = TOKEN) -> httpx.Client:
    return api_client(server, token)


@pytest.fixture
def keyed(tmp_path: Path) -> Iterator[LiveServer]:
    settings = Settings(home=tmp_path, db=tmp_path / "noetl.db", api_token=TOKEN, secret_key=KEY)
    with LiveServer(settings) as live:
        yield live


@pytest.fixture
def api(keyed: LiveServer) -> Iterator[httpx.Client]:
    with client(keyed) as http:
        yield http


def names(api: httpx.Client) -> list[str]:
    listed = api.get("/credentials")
    assert listed.status_code == 200
    assert SECRET not in listed.text
    return [row["name"] for row in listed.json()]


def roundtrip(api: httpx.Client, name: str) -> None:
    """Create, replace, list, reveal, delete one credential; the secret only in `reveal`."""
    body = {"type": "http", "data": {"type": "bearer", "token": SECRET}}
    created = api.put(f"/credentials/{name}", json=body)
    assert (created.status_code, created.json()) == (
        201,
        {"name": name, "type": "http", "created": True},
    )
    body["data"]["token"] = SECRET + "-2"
    replaced = api.put(f"/credentials/{name}", json=body)
    assert (replaced.status_code, replaced.json()["created"]) == (200, False)
    assert SECRET not in created.text + replaced.text
    rows = [row for row in api.get("/credentials").json() if row["name"] == name]
    assert len(rows) == 1 and set(rows[0]) == {"name", "type", "created_at", "updated_at"}
    assert rows[0]["type"] == "http" and rows[0]["updated_at"] >= rows[0]["created_at"]
    revealed = api.post(f"/credentials/{name}/reveal")
    assert revealed.status_code == 200
    assert revealed.json() == {"name": name, "data": {"type": "bearer", "token": SECRET + "-2"}}
    deleted = api.delete(f"/credentials/{name}")
    assert (deleted.status_code, deleted.content) == (204, b"")
    again = api.delete(f"/credentials/{name}")
    assert again.status_code == 404 and name in again.json()["error"]["message"]
    gone = api.post(f"/credentials/{name}/reveal")
    assert gone.status_code == 404
    assert f"credential {name!r} not found on the server" in gone.json()["error"]["message"]


def test_set_list_reveal_delete(api: httpx.Client, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)
    assert names(api) == []
    roundtrip(api, "api")
    roundtrip(api, "team/api.v2")  # a name with '/' and '.' is one path parameter
    assert names(api) == []
    assert SECRET not in caplog.text


def test_bad_input_names_the_field_and_stores_nothing(api: httpx.Client):
    def refused(name: str, body: Any) -> dict[str, Any]:
        answer = api.put(f"/credentials/{name}", json=body)
        assert answer.status_code == 422, answer.text
        assert SECRET not in answer.text
        return dict(answer.json()["error"])

    good = {"type": "generic", "data": {"token": SECRET}}
    bad_name = refused("-starts-with-dash", good)
    assert bad_name["fields"][0]["field"] == "name"
    assert "invalid credential name '-starts-with-dash'" in bad_name["message"]
    bad_type = refused("x", {"type": "ftp", "data": {"token": SECRET}})
    assert bad_type["fields"][0]["field"] == "type" and "unknown type 'ftp'" in bad_type["message"]
    not_object = refused("x", {"type": "generic", "data": [SECRET]})
    assert not_object["fields"][0]["field"] == "data"
    empty = refused("x", {"type": "generic", "data": {}})
    assert empty["fields"][0]["field"] == "data" and "non-empty" in empty["message"]
    no_dsn = refused("x", {"type": "postgres", "data": {"password": SECRET}})
    assert no_dsn["fields"][0]["field"] == "data" and "`dsn` or `host`" in no_dsn["message"]
    lacking = refused("x", {"type": "http", "data": {"type": "basic", "username": SECRET}})
    assert "lacks password" in lacking["message"]
    extra = refused("x", {**good, "value": SECRET})
    assert extra["fields"][0]["field"] == "value"
    assert refused("x", {"type": "generic"})["fields"][0]["field"] == "data"
    assert names(api) == []


def test_wrong_token_is_401_and_stores_or_reveals_nothing(keyed: LiveServer, api: httpx.Client):
    assert api.put("/credentials/kept", json={"data": {"token": SECRET}}).status_code == 201
    for token in (None, "wrong"):
        with client(keyed, token) as intruder:
            stored = intruder.put("/credentials/other", json={"data": {"token": SECRET}})
            revealed = intruder.post("/credentials/kept/reveal")
            listed = intruder.get("/credentials")
            deleted = intruder.delete("/credentials/kept")
        for answer in (stored, revealed, listed, deleted):
            assert answer.status_code == 401
            assert SECRET not in answer.text and "kept" not in answer.text
    assert names(api) == ["kept"]


def test_server_without_a_key_says_so_and_stores_nothing(tmp_path: Path):
    settings = Settings(home=tmp_path, db=tmp_path / "noetl.db", api_token=TOKEN)
    with LiveServer(settings) as live, client(live) as api:
        stored = api.put("/credentials/x", json={"data": {"token": SECRET}})
        revealed = api.post("/credentials/x/reveal")
        for answer in (stored, revealed):
            assert answer.status_code == 503
            error = answer.json()["error"]
            assert error["kind"] == "unavailable"
            assert error["message"].startswith("NOETL_SECRET_KEY is not set on the server")
        assert names(api) == []  # listing needs no key
        assert api.delete("/credentials/x").status_code == 404
    bad = Settings(home=tmp_path, db=tmp_path / "noetl.db", api_token=TOKEN, secret_key="short")
    with LiveServer(bad) as live, client(live) as api:
        answer = api.put("/credentials/x", json={"data": {"token": SECRET}})
        assert answer.status_code == 503 and "not a valid key" in answer.text
        assert "short" not in answer.text  # not even a wrong key is repeated
        assert names(api) == []


def test_another_key_cannot_reveal(tmp_path: Path):
    settings = Settings(home=tmp_path, db=tmp_path / "noetl.db", api_token=TOKEN, secret_key=KEY)
    with LiveServer(settings) as live, client(live) as api:
        assert api.put("/credentials/x", json={"data": {"token": SECRET}}).status_code == 201
    rekeyed = Settings(
        home=tmp_path, db=tmp_path / "noetl.db", api_token=TOKEN, secret_key=generate_key()
    )
    with LiveServer(rekeyed) as live, client(live) as api:
        answer = api.post("/credentials/x/reveal")
        assert answer.status_code == 500 and SECRET not in answer.text
        assert answer.json()["error"]["kind"] == "credential"
        assert "cannot be decrypted" in answer.json()["error"]["message"]


def test_postgres_server_keeps_credentials_in_its_database(pg_dsn: str, tmp_path: Path):
    settings = Settings(home=tmp_path, pg_dsn=pg_dsn, api_token=TOKEN, secret_key=KEY)
    name = f"pg-{uuid.uuid4().hex[:8]}"
    with LiveServer(settings) as live, client(live) as api:
        roundtrip(api, name)
        api.put(f"/credentials/{name}", json={"data": {"token": SECRET}})
    with LiveServer(settings) as live, client(live) as api:  # a restarted server still has it
        assert api.post(f"/credentials/{name}/reveal").json()["data"] == {"token": SECRET}
        assert api.delete(f"/credentials/{name}").status_code == 204


def test_remote_credentials_client(keyed: LiveServer, tmp_path: Path):
    async def scenario() -> None:
        remote = RemoteCredentials(ServerClient(keyed.url, token=TOKEN))
        try:
            assert await remote.set("a/../b", "generic", {"token": SECRET}) is True
            assert await remote.set("a/../b", "generic", {"token": SECRET}) is False
            assert [i.name for i in await remote.list()] == ["a/../b"]
            assert await remote.get("a/../b") == {"token": SECRET}
            await remote.delete("a/../b")
            unknown = re.escape("'a/../b' not found on the server")
            with pytest.raises(CredentialError, match=unknown):
                await remote.get("a/../b")
            with pytest.raises(NotFoundError, match=re.escape("'a/../b' not found")):
                await remote.delete("a/../b")
        finally:
            await remote.client.aclose()
        intruder = RemoteCredentials(ServerClient(keyed.url, token="wrong"))
        try:
            with pytest.raises(CredentialError, match=r"'x' could not be read: .*HTTP 401"):
                await intruder.get("x")
        finally:
            await intruder.client.aclose()
        gone = RemoteCredentials(ServerClient("http://127.0.0.1:9", token=TOKEN), patience=0)
        try:
            with pytest.raises(CredentialError, match="cannot reach the NoETL server"):
                await gone.get("x")
        finally:
            await gone.client.aclose()

    asyncio.run(scenario())


def test_remote_credentials_wait_out_a_server_restart(tmp_path: Path):
    """A worker asking for a credential while the server restarts gets it once it is back; a
    server without the key is reported at once (not waited on)."""
    settings = Settings(home=tmp_path, db=tmp_path / "noetl.db", api_token=TOKEN, secret_key=KEY)
    with LiveServer(settings) as first:
        with client(first) as http:
            assert http.put("/credentials/db", json={"data": {"token": SECRET}}).is_success
        port = int(first.url.rsplit(":", 1)[1])

    async def scenario() -> tuple[dict[str, Any], float]:
        remote = RemoteCredentials(ServerClient(f"http://127.0.0.1:{port}", token=TOKEN))
        try:
            asking = asyncio.create_task(remote.get("db"))
            await asyncio.sleep(0.5)
            assert not asking.done()  # the server is down: still trying
            with LiveServer(settings, port=port):
                data = await asyncio.wait_for(asking, 20)
            unkeyed = Settings(home=tmp_path, db=tmp_path / "noetl.db", api_token=TOKEN)
            with LiveServer(unkeyed, port=port):
                started = asyncio.get_running_loop().time()
                with pytest.raises(CredentialError, match="NOETL_SECRET_KEY"):
                    await remote.get("db")
                return data, asyncio.get_running_loop().time() - started
        finally:
            await remote.client.aclose()

    data, refused_after = asyncio.run(scenario())
    assert data == {"token": SECRET}
    assert refused_after < 5
