"""Wiring of the server's runtime: what `open_server` leaves behind when a part fails to open."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from noetl.config import Settings
from noetl.errors import StoreError
from noetl.runtime import assemble
from noetl.store.sqlite import SqliteCatalogStore, SqliteEventStore, SqliteResultStore


def test_a_store_that_fails_to_open_closes_the_ones_opened_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    closed: list[str] = []
    for kind in (SqliteEventStore, SqliteCatalogStore):
        original = kind.close

        async def close(self, original=original, name=kind.__name__) -> None:
            closed.append(name)
            await original(self)

        monkeypatch.setattr(kind, "close", close)

    def refuse(path: Path) -> SqliteResultStore:
        raise StoreError(f"cannot open the result store in {path}")

    monkeypatch.setattr(SqliteResultStore, "open", staticmethod(refuse))
    settings = Settings(home=tmp_path, db=tmp_path / "noetl.db")
    with pytest.raises(StoreError, match="cannot open the result store"):
        asyncio.run(assemble.open_server(settings))
    assert sorted(closed) == ["SqliteCatalogStore", "SqliteEventStore"]
