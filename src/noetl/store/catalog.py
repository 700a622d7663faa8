"""The catalog port: registered playbooks, versioned by content.

A playbook is registered under a path (its `metadata.path`, else its name). Registering a path
again with content different from its latest version creates the next version (1, 2, 3...);
registering the same content as the latest version creates nothing and returns that version.
Old versions are kept, so `get(path, version)` can run any of them. Adapters: SQLite
(`noetl.store.sqlite.catalog`, embedded mode) and PostgreSQL (`noetl.store.postgres.catalog`,
the server), both passing `tests/integration/test_catalog.py`.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from noetl.errors import ConflictError, NotFoundError

MAX_PAGE = 1000  # entries per page of a listing over the API


@dataclass(frozen=True)
class CatalogEntry:
    """One version of a registered playbook."""

    path: str
    version: int  # 1, 2, 3... per path
    name: str  # the playbook's metadata.name
    source: str  # the YAML text, exactly as registered
    sha256: str  # hex digest of `source` (UTF-8)
    created_at: str  # UTC ISO-8601

    def to_dict(self, *, with_source: bool = False) -> dict[str, Any]:
        """JSON-friendly form; the YAML text only when asked for."""
        data = asdict(self)
        if not with_source:
            del data["source"]
        return data


class CatalogStore(Protocol):
    """Versioned playbook registry."""

    async def register(self, path: str, name: str, source: str) -> tuple[CatalogEntry, bool]:
        """Store `source` under `path`; return the entry and whether a new version was made."""
        ...

    async def get(self, path: str, version: int | None = None) -> CatalogEntry:
        """One version (the latest when `version` is None); NotFoundError when absent."""
        ...

    async def list(self, *, limit: int | None = None, offset: int = 0) -> list[CatalogEntry]:
        """The latest version of every path, ordered by path: at most `limit` of them (all
        when None), after skipping the first `offset`."""
        ...

    async def close(self) -> None:
        """Release the connection. Idempotent."""
        ...


async def register_declared(
    catalog: CatalogStore, path: str, name: str, source: str, declared: int | None
) -> tuple[CatalogEntry, bool]:
    """Register, honouring `metadata.version`: when the playbook declares a version, it must be
    the one the catalog gives this content (the latest for unchanged content, the next one for
    new content), else ConflictError saying which it would be and nothing is registered."""
    if declared is not None:
        try:
            latest: CatalogEntry | None = await catalog.get(path)
        except NotFoundError:
            latest = None
        if latest is None:
            expected = 1
        else:
            unchanged = latest.sha256 == content_hash(source)
            expected = latest.version if unchanged else latest.version + 1
        if declared != expected:
            raise ConflictError(
                f"metadata.version is {declared}, but the catalog registers this content as "
                f"version {expected} of {path!r}: set metadata.version to {expected}, or remove it"
            )
    return await catalog.register(path, name, source)


def content_hash(source: str) -> str:
    """The sha256 hex digest that identifies a playbook's content."""
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def not_found(path: str, version: int | None) -> NotFoundError:
    """The error for a path (or one version of it) the catalog does not hold."""
    if version is None:
        return NotFoundError(f"catalog has no playbook at path {path!r}")
    return NotFoundError(f"catalog has no version {version} of playbook {path!r}")
