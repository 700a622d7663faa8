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

from noetl.errors import NotFoundError


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

    async def list(self) -> list[CatalogEntry]:
        """The latest version of every path, ordered by path."""
        ...

    async def close(self) -> None:
        """Release the connection. Idempotent."""
        ...


def content_hash(source: str) -> str:
    """The sha256 hex digest that identifies a playbook's content."""
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def not_found(path: str, version: int | None, where: str) -> NotFoundError:
    """The error for a path (or one version of it) the catalog does not hold."""
    if version is None:
        return NotFoundError(f"catalog has no playbook at path {path!r} ({where})")
    return NotFoundError(f"catalog has no version {version} of playbook {path!r} ({where})")
