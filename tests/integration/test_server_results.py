"""Large results through the REST API of a real uvicorn server (SQLite database).

Uploads are raw bytes with their own size limit (here 1 MiB, while other requests keep 64 KiB);
downloads answer the bytes with their content type. The workers' `RemoteResultStore` is checked
against the same server for the errors a step must fail with.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from noetl.client.results import RemoteResultStore
from noetl.client.transport import ServerClient
from noetl.config import Settings
from noetl.devservers.processes import free_port
from noetl.errors import NotFoundError, StoreError
from noetl.store.results import REF_KEY, encode
from support.live_server import LiveServer, api_client

TOKEN = "results-token-91c2"
MAX_BODY = 64 * 1024
MAX_RESULT = 1024 * 1024
PLAYBOOK = """\
apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: holder, path: tests/holder}
workflow:
  - step: start
    tool: {kind: python, code: "result = 1"}
"""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    settings = Settings(home=tmp_path, api_token=TOKEN, max_result_bytes=MAX_RESULT)
    with LiveServer(settings, max_body=MAX_BODY) as live:
        yield live


@pytest.fixture
def api(server: LiveServer) -> Iterator[httpx.Client]:
    with api_client(server, TOKEN) as client:
        yield client


@pytest.fixture
def execution_id(api: httpx.Client) -> str:
    """A running execution (nothing consumes its commands) that results may belong to."""
    return str(api.post("/executions", json={"playbook": PLAYBOOK}).json()["execution_id"])


def key_of(execution_id: str, body: bytes) -> str:
    return f"{execution_id}/{hashlib.sha256(body).hexdigest()}"


def test_upload_then_download_the_same_bytes(api: httpx.Client, execution_id: str):
    body = bytes(range(256)) * 2048  # 512 KiB: above the 64 KiB of other requests
    headers = {"content-type": "application/octet-stream"}
    put = api.put(f"/executions/{execution_id}/results", content=body, headers=headers)
    assert put.status_code == 201, put.text
    ref = put.json()[REF_KEY]
    assert ref == {
        "store": "db",
        "key": key_of(execution_id, body),
        "size": len(body),
        "sha256": hashlib.sha256(body).hexdigest(),
        "content_type": "application/octet-stream",
    }
    posted = api.post(f"/executions/{execution_id}/results", content=body, headers=headers)
    assert (posted.status_code, posted.json()[REF_KEY]) == (201, ref)  # stored once
    got = api.get(f"/results/{ref['key']}")
    assert got.status_code == 200
    assert got.content == body
    assert got.headers["content-type"] == "application/octet-stream"


def test_routes_are_in_the_api_docs(server: LiveServer):
    paths = httpx.get(f"{server.url}/openapi.json").json()["paths"]
    assert set(paths["/api/v2/executions/{execution_id}/results"]) == {"put", "post"}
    assert "get" in paths["/api/v2/results/{key}"]


def test_json_is_the_default_content_type(api: httpx.Client, execution_id: str):
    body = encode({"rows": list(range(30_000))})
    put = api.post(f"/executions/{execution_id}/results", content=body)
    ref = put.json()[REF_KEY]
    assert ref["content_type"] == "application/json"
    got = api.get(f"/results/{ref['key']}")
    assert got.json() == {"rows": list(range(30_000))}


def test_unknown_key_and_unknown_execution_are_404_naming_them(
    api: httpx.Client, execution_id: str
):
    key = key_of(execution_id, b"never stored")
    missing = api.get(f"/results/{key}")
    assert missing.status_code == 404
    assert key in missing.json()["error"]["message"]
    body = b'{"a": 1}'
    orphan = api.put("/executions/404404/results", content=body)
    assert orphan.status_code == 404
    assert "404404" in orphan.json()["error"]["message"]
    assert api.get(f"/results/{key_of('404404', body)}").status_code == 404


def test_empty_upload_is_422(api: httpx.Client, execution_id: str):
    empty = api.put(f"/executions/{execution_id}/results", content=b"")
    assert empty.status_code == 422
    assert "non-empty body" in empty.json()["error"]["message"]


def test_oversized_upload_is_413_and_stores_nothing(api: httpx.Client, execution_id: str):
    body = b"x" * (MAX_RESULT + 1)
    declared = api.put(f"/executions/{execution_id}/results", content=body)
    assert declared.status_code == 413
    assert f"larger than {MAX_RESULT} bytes" in declared.json()["error"]["message"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit is counted as it comes
        for _ in range(MAX_RESULT // 1024 + 1):
            yield b"x" * 1024

    streamed = api.post(f"/executions/{execution_id}/results", content=chunks())
    assert streamed.status_code == 413
    assert api.get(f"/results/{key_of(execution_id, body)}").status_code == 404


def test_other_requests_keep_their_own_limit(api: httpx.Client, execution_id: str):
    between = b"x" * (MAX_BODY + 1)  # fine for a result upload, too big for anything else
    headers = {"content-type": "application/json"}
    assert api.post("/events", content=between, headers=headers).status_code == 413
    assert api.post("/executions", content=between, headers=headers).status_code == 413
    elsewhere = api.post(f"/executions/{execution_id}/cancel", content=between)
    assert elsewhere.status_code == 413
    put = api.put(f"/executions/{execution_id}/results", content=between)
    assert put.status_code == 201


def test_missing_or_wrong_token_is_401(server: LiveServer, api: httpx.Client, execution_id: str):
    body = b'{"big": true}'
    stored = api.put(f"/executions/{execution_id}/results", content=body).json()[REF_KEY]
    base = f"{server.url}/api/v2"
    for headers in ({}, {"authorization": "Bearer wrong"}):
        upload = httpx.put(
            f"{base}/executions/{execution_id}/results", content=b"1", headers=headers
        )
        download = httpx.get(f"{base}/results/{stored['key']}", headers=headers)
        assert (upload.status_code, download.status_code) == (401, 401)
        assert TOKEN not in upload.text + download.text
    assert api.get(f"/results/{key_of(execution_id, b'1')}").status_code == 404


# -- the workers' store against this server -----------------------------------------------------


def run_with_store(url: str, scenario, *, token: str = TOKEN, patience: float = 1.0):
    async def main():
        client = ServerClient(url, token=token)
        try:
            return await scenario(RemoteResultStore(client, patience=patience))
        finally:
            await client.aclose()

    return asyncio.run(main())


def test_remote_store_refusals_are_store_errors_naming_why(server: LiveServer, execution_id: str):
    async def scenario(store: RemoteResultStore) -> None:
        with pytest.raises(StoreError, match=r"HTTP 413.*larger than"):
            await store.put(execution_id, b"x" * (MAX_RESULT + 1))
        ref = await store.put(execution_id, encode(list(range(1000))))
        assert await store.get(ref) == list(range(1000))
        forged = {REF_KEY: {**ref[REF_KEY], "sha256": "0" * 64}}
        with pytest.raises(StoreError, match="corrupt"):
            await store.get(forged)  # what came is not what the reference names
        with pytest.raises(NotFoundError, match="404404"):
            await store.put("404404", b"[1]")

    run_with_store(server.url, scenario)

    async def unauthorized(store: RemoteResultStore) -> None:
        with pytest.raises(StoreError, match="HTTP 401"):
            await store.put(execution_id, b"[1]")

    run_with_store(server.url, unauthorized, token="wrong")


def test_remote_store_retries_an_unreachable_server_then_fails_the_step():
    async def scenario(store: RemoteResultStore) -> float:
        loop = asyncio.get_running_loop()
        began = loop.time()
        with pytest.raises(StoreError, match="cannot reach the NoETL server"):
            await store.put("1", b"[1]")
        return loop.time() - began

    waited = run_with_store(f"http://127.0.0.1:{free_port()}", scenario, patience=0.5)
    assert 0.3 < waited < 5.0
