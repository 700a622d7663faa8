"""A server's catalog over its REST API: what `noetl catalog ... --server` reads and writes.

`RemoteCatalog` has the methods of the catalog port (`noetl.store.catalog.CatalogStore`), so the
CLI uses the local catalog or a server's without knowing which.
"""

from __future__ import annotations

import builtins
from typing import Any
from urllib.parse import quote

from noetl.client.transport import ServerClient
from noetl.store.catalog import MAX_PAGE, CatalogEntry


class RemoteCatalog:
    """The catalog of a NoETL server, through `client`."""

    def __init__(self, client: ServerClient) -> None:
        self.client = client

    async def register(self, path: str, name: str, source: str) -> tuple[CatalogEntry, bool]:
        """Register `source` under `path` (the server validates it again); the entry and
        whether a new version was made."""
        answer = await self.client.register(source, path=path)
        return _entry(answer, source), bool(answer.get("created"))

    async def get(self, path: str, version: int | None = None) -> CatalogEntry:
        """One version (the latest when `version` is None); NotFoundError when absent."""
        params = None if version is None else {"version": version}
        answer = await self.client.call("GET", f"/catalog/{quote(path)}", params=params)
        return _entry(answer, answer.get("content") or "")

    async def list(
        self, *, limit: int | None = None, offset: int = 0
    ) -> builtins.list[CatalogEntry]:
        """The latest version of every path, ordered by path (without their YAML): a page of
        `limit` from `offset`, or with no `limit` every page from `offset` on."""
        entries: builtins.list[CatalogEntry] = []
        while True:
            size = MAX_PAGE if limit is None else min(MAX_PAGE, limit - len(entries))
            params = {"limit": size, "offset": offset + len(entries)}
            page = await self.client.call("GET", "/catalog", params=params)
            entries += [_entry(row, "") for row in page]
            if len(page) < size or (limit is not None and len(entries) >= limit):
                return entries

    async def close(self) -> None:
        """Nothing to release: the client belongs to whoever made it."""


def _entry(answer: dict[str, Any], source: str) -> CatalogEntry:
    return CatalogEntry(
        path=answer["path"],
        version=int(answer["version"]),
        name=answer["name"],
        source=source,
        sha256=answer["sha256"],
        created_at=str(answer["created_at"]),
    )
