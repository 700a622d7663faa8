"""The `http` tool against a real local HTTP server (tests/integration/http_server.py)."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
from http_server import PAGES, LocalHttpServer

from noetl.errors import ToolError
from noetl.tools.base import Resources, ToolContext
from noetl.tools.http import HttpTool
from support.tools import DictCredentials, tool_context


def make_ctx(resources: Resources, timeout: float | None = None) -> ToolContext:
    return tool_context(resources, step="fetch", task="get", timeout=timeout)


def call(
    config: Mapping[str, Any], *, credentials: Any = None, timeout: float | None = None
) -> Any:
    """Run the tool once with fresh per-worker resources, closed afterwards."""

    async def go() -> Any:
        resources = Resources(credentials=credentials)
        try:
            return await HttpTool().run(config, make_ctx(resources, timeout))
        finally:
            await resources.aclose()

    return asyncio.run(go())


def fails(config: Mapping[str, Any], **kwargs: Any) -> ToolError:
    with pytest.raises(ToolError) as info:
        call(config, **kwargs)
    return info.value


def closed_port() -> int:
    """A localhost port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- requests and results ---


def test_get_returns_status_headers_parsed_json_url_and_elapsed(http_server: LocalHttpServer):
    result = call({"url": f"{http_server.url}/pages", "params": {"page": 2}})
    assert result["status_code"] == 200
    assert result["headers"]["content-type"] == "application/json"
    assert result["data"] == {
        "page": 2,
        "items": [{"id": 3, "name": "item-3"}, {"id": 4, "name": "item-4"}],
        "hasMore": True,
    }
    assert result["url"] == f"{http_server.url}/pages?page=2"
    assert isinstance(result["elapsed_ms"], float) and result["elapsed_ms"] >= 0
    json.dumps(result)  # the result is JSON-friendly as a whole


def test_paging_until_has_more_is_false(http_server: LocalHttpServer):
    items, page = [], 1
    while True:
        data = call({"url": f"{http_server.url}/pages", "params": {"page": page}})["data"]
        items += data["items"]
        if not data["hasMore"]:
            break
        page += 1
    assert page == PAGES
    assert [i["id"] for i in items] == list(range(1, PAGES * 2 + 1))


def test_method_headers_and_params_reach_the_server(http_server: LocalHttpServer):
    result = call(
        {
            "method": "delete",
            "url": f"{http_server.url}/echo",
            "headers": {"X-Trace": "abc", "X-Count": 3},
            "params": {"q": "a b", "flag": True, "n": 1, "tag": ["x", "y"]},
        }
    )
    echo = result["data"]
    assert echo["method"] == "DELETE"
    assert echo["headers"]["x-trace"] == "abc"
    assert echo["headers"]["x-count"] == "3"
    assert echo["query"] == {"q": "a b", "flag": "true", "n": "1", "tag": "y"}
    assert "tag=x&tag=y" in result["url"]


def test_json_body_is_sent_as_json(http_server: LocalHttpServer):
    payload = {"name": "x", "values": [1, 2.5, None]}
    echo = call({"method": "POST", "url": f"{http_server.url}/echo", "json": payload})["data"]
    assert echo["headers"]["content-type"] == "application/json"
    assert json.loads(echo["body"]) == payload


def test_data_mapping_is_sent_as_a_form(http_server: LocalHttpServer):
    echo = call({"method": "POST", "url": f"{http_server.url}/echo", "data": {"a": 1, "b": "two"}})[
        "data"
    ]
    assert echo["headers"]["content-type"] == "application/x-www-form-urlencoded"
    assert echo["body"] == "a=1&b=two"


@pytest.mark.parametrize("field", ["data", "body"])
def test_text_data_or_body_is_sent_as_is(http_server: LocalHttpServer, field: str):
    echo = call({"method": "PUT", "url": f"{http_server.url}/echo", field: "raw <text>"})["data"]
    assert echo["method"] == "PUT"
    assert echo["body"] == "raw <text>"


def test_more_than_one_body_field_is_a_config_error(http_server: LocalHttpServer):
    err = fails({"url": f"{http_server.url}/echo", "json": {}, "body": "x"})
    assert err.kind == "config"
    assert "step 'fetch' task 'get' field 'body'" in err.message
    assert "at most one of json, data, body" in err.message


def test_non_text_body_is_a_config_error(http_server: LocalHttpServer):
    err = fails({"url": f"{http_server.url}/echo", "body": {"a": 1}})
    assert (err.kind, "field 'body'" in err.message) == ("config", True)


def test_text_response_is_returned_as_text(http_server: LocalHttpServer):
    result = call({"url": f"{http_server.url}/text"})
    assert result["headers"]["content-type"].startswith("text/plain")
    assert result["data"] == "hello"


def test_text_response_that_parses_as_json_is_parsed(http_server: LocalHttpServer):
    assert call({"url": f"{http_server.url}/text", "params": {"body": "[1, 2]"}})["data"] == [1, 2]


def test_redirects_are_followed_only_when_asked(http_server: LocalHttpServer):
    followed = call({"url": f"{http_server.url}/redirect", "follow_redirects": True})
    assert followed["status_code"] == 200
    assert followed["url"] == f"{http_server.url}/echo"
    err = fails({"url": f"{http_server.url}/redirect"})
    assert (err.kind, err.status_code, err.retryable) == ("http", 302, False)


def test_bad_headers_and_params_are_config_errors(http_server: LocalHttpServer):
    for field in ("headers", "params"):
        err = fails({"url": f"{http_server.url}/echo", field: ["not", "a", "mapping"]})
        assert err.kind == "config"
        assert f"field {field!r}" in err.message


# --- pooled clients and TLS settings ---


def test_one_pooled_client_per_verify_value_closed_with_the_worker(http_server: LocalHttpServer):
    async def go() -> tuple[dict[Any, httpx.AsyncClient], int]:
        resources = Resources()
        ctx = make_ctx(resources)
        for verify in (True, True, False, "false"):
            await HttpTool().run({"url": f"{http_server.url}/echo", "verify": verify}, ctx)
        clients = dict(resources.pools["http"])
        closers = len(resources.closers)
        await resources.aclose()
        return clients, closers

    clients, closers = asyncio.run(go())
    assert set(clients) == {True, False}
    assert closers == 2
    assert all(client.is_closed for client in clients.values())


def test_missing_ca_bundle_is_a_config_error(http_server: LocalHttpServer, tmp_path):
    err = fails({"url": f"{http_server.url}/echo", "verify": str(tmp_path / "missing.pem")})
    assert err.kind == "config"
    assert "field 'verify'" in err.message


# --- auth ---


@pytest.mark.parametrize(
    "auth, header, expected",
    [
        ({"type": "bearer", "token": "t0k"}, "authorization", "Bearer t0k"),
        (
            {"type": "basic", "username": "ann", "password": "pw"},
            "authorization",
            "Basic " + base64.b64encode(b"ann:pw").decode(),
        ),
        ({"type": "api_key", "value": "k1"}, "x-api-key", "k1"),
        ({"type": "api_key", "header": "X-Token", "value": "k2"}, "x-token", "k2"),
    ],
)
def test_inline_auth_kinds(http_server: LocalHttpServer, auth, header, expected):
    echo = call({"url": f"{http_server.url}/echo", "auth": auth})["data"]
    assert echo["headers"][header] == expected


def test_auth_by_credential_name(http_server: LocalHttpServer):
    store = DictCredentials({"api": {"type": "bearer", "token": "from-store"}})
    echo = call({"url": f"{http_server.url}/echo", "auth": "api"}, credentials=store)["data"]
    assert echo["headers"]["authorization"] == "Bearer from-store"


def test_unknown_credential_name_is_a_credential_error(http_server: LocalHttpServer):
    err = fails({"url": f"{http_server.url}/echo", "auth": "nope"}, credentials=DictCredentials({}))
    assert (err.kind, err.retryable) == ("credential", False)
    assert "step 'fetch' task 'get' field 'auth'" in err.message
    assert "credential 'nope' not found" in err.message


def test_credential_without_a_store_is_a_credential_error(http_server: LocalHttpServer):
    err = fails({"url": f"{http_server.url}/echo", "auth": "api"})
    assert err.kind == "credential"
    assert "no credential store" in err.message


def test_incomplete_credential_names_what_is_missing_without_values(http_server):
    store = DictCredentials({"half": {"type": "basic", "username": "ann", "password": ""}})
    err = fails({"url": f"{http_server.url}/echo", "auth": "half"}, credentials=store)
    assert err.kind == "credential"
    assert "['password']" in err.message
    assert "ann" not in err.message


def test_unknown_inline_auth_type_is_a_config_error(http_server: LocalHttpServer):
    err = fails({"url": f"{http_server.url}/echo", "auth": {"type": "oauth9", "token": "s3"}})
    assert err.kind == "config"
    assert "expected bearer, basic or api_key" in err.message
    assert "s3" not in err.message


def test_auth_values_never_appear_in_error_messages(http_server: LocalHttpServer):
    # The server echoes the request headers in its 401 body; the excerpt must be masked.
    basic = {"type": "basic", "username": "ann", "password": "hunter2"}
    for auth in ({"type": "bearer", "token": "sekret-token"}, basic):
        err = fails({"url": f"{http_server.url}/echo", "params": {"status": 401}, "auth": auth})
        assert err.status_code == 401
        assert "sekret-token" not in err.message
        assert "hunter2" not in err.message
        assert base64.b64encode(b"ann:hunter2").decode() not in err.message
        assert "***" in err.message


# --- error outcomes ---


@pytest.mark.parametrize(
    "status, retryable", [(500, True), (502, True), (503, True), (429, True), (404, False)]
)
def test_non_2xx_is_an_http_error(http_server: LocalHttpServer, status: int, retryable: bool):
    err = fails({"url": f"{http_server.url}/status/{status}"})
    assert err.kind == "http"
    assert err.status_code == status
    assert err.retryable is retryable
    assert err.retry_after is None
    assert err.message.startswith("step 'fetch' task 'get': GET ")
    assert f"HTTP {status}" in err.message
    assert f"status {status} as requested" in err.message  # the body excerpt


def test_body_excerpt_is_limited_to_500_characters(http_server: LocalHttpServer):
    err = fails({"method": "POST", "url": f"{http_server.url}/echo?status=500", "body": "z" * 5000})
    excerpt = err.message.split("HTTP 500 Internal Server Error: ", 1)[1]
    assert len(excerpt) == 500
    assert excerpt.startswith('{"method": "POST"')
    assert excerpt.endswith("z" * 10)


def test_retry_after_seconds(http_server: LocalHttpServer):
    err = fails({"url": f"{http_server.url}/status/503", "params": {"retry_after": "7"}})
    assert (err.retryable, err.retry_after) == (True, 7.0)


def test_retry_after_http_date(http_server: LocalHttpServer):
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    err = fails({"url": f"{http_server.url}/status/429", "params": {"retry_after": later}})
    assert err.retry_after is not None
    assert 0 < err.retry_after <= 120


def test_retry_after_in_the_past_or_unparsable(http_server: LocalHttpServer):
    past = "Wed, 21 Oct 2015 07:28:00 GMT"
    err = fails({"url": f"{http_server.url}/status/429", "params": {"retry_after": past}})
    assert err.retry_after == 0.0
    err = fails({"url": f"{http_server.url}/status/429", "params": {"retry_after": "soon"}})
    assert err.retry_after is None


def test_flaky_endpoint_succeeds_after_two_retryable_429s(http_server: LocalHttpServer):
    config = {"url": f"{http_server.url}/flaky", "params": {"key": "http-tool-test"}}
    for _ in range(2):
        err = fails(config)
        assert (err.status_code, err.retryable, err.retry_after) == (429, True, 0.0)
    assert call(config)["data"] == {"ok": True, "attempt": 3}


def test_slow_response_past_the_task_timeout_is_a_retryable_timeout(http_server):
    err = fails({"url": f"{http_server.url}/slow", "params": {"ms": 3000}, "timeout": 0.2})
    assert (err.kind, err.retryable, err.code) == ("timeout", True, "ReadTimeout")
    assert "step 'fetch' task 'get'" in err.message


def test_the_contexts_time_left_bounds_the_request(http_server: LocalHttpServer):
    err = fails({"url": f"{http_server.url}/slow", "params": {"ms": 3000}}, timeout=0.2)
    assert (err.kind, err.retryable) == ("timeout", True)


def test_slow_response_within_the_timeout_succeeds(http_server: LocalHttpServer):
    result = call({"url": f"{http_server.url}/slow", "params": {"ms": 50}, "timeout": 10})
    assert result["data"] == {"slept_ms": 50}


def test_unreachable_host_is_a_retryable_connection_error():
    err = fails({"url": f"http://127.0.0.1:{closed_port()}/x?key=secret"})
    assert (err.kind, err.retryable, err.code) == ("connection", True, "ConnectError")
    assert "step 'fetch' task 'get' field 'url'" in err.message
    assert "key=secret" not in err.message  # query strings may carry keys


@pytest.mark.parametrize(
    "url, expected",
    [
        (None, "a url (http:// or https://) is required"),
        ("", "a url (http:// or https://) is required"),
        ("ftp://example.com/file", "is not an http:// or https:// url"),
        ("example.com/no-scheme", "is not an http:// or https:// url"),
        ("http://", "is not an http:// or https:// url"),
    ],
)
def test_bad_url_is_a_config_error_naming_the_field(url: Any, expected: str):
    err = fails({"url": url})
    assert (err.kind, err.retryable) == ("config", False)
    assert "step 'fetch' task 'get' field 'url'" in err.message
    assert expected in err.message


def test_params_are_merged_with_the_urls_own_query(http_server: LocalHttpServer):
    echo = call({"url": f"{http_server.url}/echo?a=1&b=2", "params": {"b": "3", "c": 4}})["data"]
    assert echo["query"] == {"a": "1", "b": "3", "c": "4"}
