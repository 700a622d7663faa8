"""The one credential lookup of tools: every tool that names a credential fails the same way
(kind `credential`, naming step, task, field and credential, never a value), against real
SQLite credential stores."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from noetl.errors import ToolError
from noetl.store.credentials import Credentials, generate_key
from noetl.store.sqlite import SqliteCredentialStore
from noetl.tools.base import CredentialResolver, Resources, ToolContext
from noetl.tools.credentials import lookup_credential
from noetl.tools.duckdb import DuckdbTool
from noetl.tools.http import HttpTool
from noetl.tools.postgres import PostgresTool
from noetl.tools.secrets import SecretsTool
from support.tools import tool_context

PASSWORD = "pw-very-secret-4242"
DATA = {"type": "postgres", "host": "127.0.0.1", "user": "ann", "password": PASSWORD}

# A task of each tool that names credential `name` in `field` (nothing is reached: the lookup
# fails first).
TASKS: list[tuple[Any, dict[str, Any], str]] = [
    (HttpTool(), {"url": "http://127.0.0.1:9/", "auth": "name"}, "auth"),
    (PostgresTool(), {"auth": "name", "query": "SELECT 1"}, "auth"),
    (DuckdbTool(), {"attach": [{"name": "pg", "credential": "name"}], "query": "SELECT 1"},
     "attach[0].credential"),
    (SecretsTool(), {"name": "name"}, "name"),
]  # fmt: skip


def context(resolver: CredentialResolver | None) -> ToolContext:
    return tool_context(Resources(credentials=resolver), step="load", task="get")


@pytest.fixture
def open_store(tmp_path: Path) -> Iterator[Callable[[], Credentials]]:
    """Opens the credentials of one SQLite file (closed after the test), each with its own key;
    the first one stores `warehouse`."""
    opened: list[Credentials] = []

    def open_one() -> Credentials:
        credentials = Credentials(SqliteCredentialStore.open(tmp_path / "noetl.db"), generate_key())
        if not opened:
            asyncio.run(credentials.set("warehouse", "postgres", DATA))
        opened.append(credentials)
        return credentials

    yield open_one
    for credentials in opened:
        asyncio.run(credentials.store.close())


def lookup(resolver: CredentialResolver | None, name: str) -> Mapping[str, Any]:
    return asyncio.run(lookup_credential(context(resolver), name, "auth"))


def failure(resolver: CredentialResolver | None, name: str) -> ToolError:
    with pytest.raises(ToolError) as caught:
        lookup(resolver, name)
    assert caught.value.kind == "credential"
    assert caught.value.message.startswith("step 'load' task 'get' field 'auth': ")
    assert f"{name!r}" in caught.value.message
    assert PASSWORD not in caught.value.message
    return caught.value


def test_a_stored_credential_is_its_data(open_store: Callable[[], Credentials]) -> None:
    assert lookup(open_store(), "warehouse") == DATA


def test_no_credential_store() -> None:
    assert "no credential store is configured" in failure(None, "warehouse").message


def test_unknown_name(open_store: Callable[[], Credentials]) -> None:
    assert "credential 'nope' not found" in failure(open_store(), "nope").message


def test_sealed_with_another_key(open_store: Callable[[], Credentials]) -> None:
    open_store()
    assert "cannot be decrypted" in failure(open_store(), "warehouse").message


def test_store_that_fails(open_store: Callable[[], Credentials]) -> None:
    credentials = open_store()
    asyncio.run(credentials.store.close())
    assert "is closed" in failure(credentials, "warehouse").message


def test_a_resolver_answering_without_data() -> None:
    class Empty:
        async def get(self, name: str) -> Any:
            return None

    assert "holds no data" in failure(Empty(), "warehouse").message


@pytest.mark.parametrize(("tool", "config", "field"), TASKS, ids=lambda v: str(v)[:20])
@pytest.mark.parametrize("case", ["no store", "unknown", "undecryptable"])
def test_every_tool_fails_the_same_way(
    tool: Any,
    config: dict[str, Any],
    field: str,
    case: str,
    open_store: Callable[[], Credentials],
) -> None:
    resolver: Credentials | None = None
    if case != "no store":
        resolver = open_store()
    if case == "undecryptable":
        resolver = open_store()
    name = "nope" if case == "unknown" else "warehouse"
    config = _named(config, name)
    with pytest.raises(ToolError) as caught:
        asyncio.run(tool.run(config, context(resolver)))
    assert caught.value.kind == "credential"
    assert caught.value.message.startswith(f"step 'load' task 'get' field {field!r}: ")
    assert f"credential {name!r}" in caught.value.message


def _named(config: Any, name: str) -> Any:
    """`config` with every value "name" replaced by `name`."""
    if isinstance(config, dict):
        return {k: _named(v, name) for k, v in config.items()}
    if isinstance(config, list):
        return [_named(v, name) for v in config]
    return name if config == "name" else config
