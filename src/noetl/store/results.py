"""The result store: large task and step results, written once, referenced from events.

A result larger than the inline limit is serialised to JSON and stored under a key derived from
the execution and its sha256; events carry a ResultRef instead of the data:

    {"result_ref": {"store": "file", "key": "<execution>/<sha256>.json", "size": 52428800,
                    "sha256": "...", "content_type": "application/json"}}

Identical results of one execution share one stored object. Stores: files under a folder
(embedded mode), a table in the server's database (`db`, adapters in `store/sqlite` and
`store/postgres`; distributed workers reach it through the server's API with
`noetl.client.results.RemoteResultStore`) and a dict (tests).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from noetl.engine.references import REF_KEY as REF_KEY  # the engine reads references too
from noetl.engine.references import is_ref as is_ref
from noetl.errors import NotFoundError, StoreError

JSON = "application/json"


def encode(value: Any) -> bytes:
    """The stored form of a result: compact JSON (non-JSON values as text)."""
    return json.dumps(value, separators=(",", ":"), default=str).encode("utf-8")


def decode(key: str, body: bytes, content_type: str) -> Any:
    """The value a stored body holds: JSON decoded, other text as str, anything else as bytes."""
    media = content_type.split(";", 1)[0].strip().lower()
    try:
        if media == JSON or media.endswith("+json"):
            return json.loads(body)
        if media.startswith("text/"):
            return body.decode("utf-8")
    except (ValueError, UnicodeDecodeError) as exc:
        raise StoreError(f"result {key} is not valid {media}: {exc}") from None
    return body


def content_key(execution_id: str, body: bytes) -> tuple[str, str]:
    """`(key, sha256)` of a body in a keyed store: `<execution_id>/<sha256>`."""
    sha = hashlib.sha256(body).hexdigest()
    return f"{execution_id}/{sha}", sha


def verified(key: str, body: bytes, sha256: str) -> bytes:
    """`body`, once its sha256 is the one recorded (StoreError: corrupt or truncated)."""
    if hashlib.sha256(body).hexdigest() != sha256:
        raise StoreError(f"result {key} is corrupt: its sha256 is not the one recorded")
    return body


@dataclass(frozen=True)
class StoredResult:
    """A stored body as it was written, with its content type (what the API serves)."""

    body: bytes
    content_type: str


class KeyedResults(ABC):
    """`get` for stores that keep bodies by key and `read` them back checked (the `db` stores):
    each adapter supplies `read`, the one part that touches its database."""

    @abstractmethod
    async def read(self, key: str) -> StoredResult:
        """The stored body and its content type (NotFoundError when unknown)."""

    @abstractmethod
    async def usage(self, execution_id: str) -> int:
        """Bytes stored for the execution so far (its results quota is checked against it)."""

    async def get(self, ref: Mapping[str, Any]) -> Any:
        """The decoded value a ResultRef wrapper points at."""
        key = str(ref[REF_KEY]["key"])
        stored = await self.read(key)
        return decode(key, stored.body, stored.content_type)


class ResultStore(Protocol):
    """Where large results live."""

    name: str

    async def put(self, execution_id: str, body: bytes, content_type: str = JSON) -> dict[str, Any]:
        """Store `body` once; return its ResultRef wrapper."""
        ...

    async def get(self, ref: Mapping[str, Any]) -> Any:
        """The decoded value a ResultRef wrapper points at (NotFoundError when gone)."""
        ...


class KeyedResultStore(ResultStore, Protocol):
    """A result store that also serves stored bodies by key (the server's `db` stores)."""

    async def read(self, key: str) -> StoredResult:
        """The stored body and its content type (NotFoundError when unknown)."""
        ...

    async def usage(self, execution_id: str) -> int:
        """Bytes stored for the execution so far (its results quota is checked against it)."""
        ...

    async def close(self) -> None:
        """Release the connection. Idempotent."""
        ...


def make_ref(store: str, key: str, body: bytes, sha: str, content_type: str) -> dict[str, Any]:
    """The ResultRef wrapper of a stored body."""
    inner = {"store": store, "key": key, "size": len(body), "sha256": sha}
    inner["content_type"] = content_type
    return {REF_KEY: inner}


class FileResultStore:
    """Results as files under one folder (the embedded mode)."""

    name = "file"

    def __init__(self, root: Path) -> None:
        self.root = root

    async def put(self, execution_id: str, body: bytes, content_type: str = JSON) -> dict[str, Any]:
        """Write the file unless an identical one is there."""
        sha = hashlib.sha256(body).hexdigest()
        key = f"{execution_id}/{sha}.json"
        path = self.root / key
        if not path.exists():
            await asyncio.to_thread(_write_atomically, path, body)
        return make_ref(self.name, key, body, sha, content_type)

    async def get(self, ref: Mapping[str, Any]) -> Any:
        """Read and decode, checking the size."""
        inner = ref[REF_KEY]
        path = self.root / str(inner["key"])
        try:
            body = await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            raise NotFoundError(f"result {inner['key']} not found") from None
        except OSError as exc:
            raise StoreError(f"reading result {inner['key']} failed: {exc.strerror}") from None
        if len(body) != inner.get("size", len(body)):
            raise StoreError(f"result {inner['key']} is truncated")
        return decode(str(inner["key"]), body, str(inner.get("content_type") or JSON))


def _write_atomically(path: Path, body: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_bytes(body)
    partial.replace(path)


class MemoryResultStore:
    """Results in a dict (tests)."""

    name = "memory"

    def __init__(self) -> None:
        self.bodies: dict[str, bytes] = {}

    async def put(self, execution_id: str, body: bytes, content_type: str = JSON) -> dict[str, Any]:
        """Keep the body."""
        key, sha = content_key(execution_id, body)
        self.bodies[key] = body
        return make_ref(self.name, key, body, sha, content_type)

    async def get(self, ref: Mapping[str, Any]) -> Any:
        """Decode the kept body."""
        inner = ref[REF_KEY]
        key = str(inner["key"])
        if key not in self.bodies:
            raise NotFoundError(f"result {key} not found")
        return decode(key, self.bodies[key], str(inner.get("content_type") or JSON))
