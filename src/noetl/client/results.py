"""The result store of distributed workers (and of `noetl results --server`): the server's.

Workers on different machines share no folder, so a large result goes to the server, which
keeps it in its database (`db` store, shared by its replicas); any worker, and the CLI, read it
back by key. Bodies travel as raw bytes. While the server is unreachable or failing (5xx) calls
are retried with backoff, like the worker's claims and reports; any other refusal (413: larger
than the server's `max_result_bytes`) is a StoreError that fails the step.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from noetl.client.transport import ServerClient, retrying
from noetl.errors import RemoteError, StoreError
from noetl.store.results import JSON, REF_KEY, decode, verified


class RemoteResultStore:
    """The ResultStore port over a server's `/results` API."""

    name = "db"

    def __init__(self, client: ServerClient, *, patience: float = 300.0) -> None:
        self.client = client
        self.patience = patience  # seconds to keep retrying while the server is unreachable

    async def put(self, execution_id: str, body: bytes, content_type: str = JSON) -> dict[str, Any]:
        """Upload `body` (stored once by the server); the ResultRef wrapper it answers."""
        try:
            return await retrying(
                lambda: self.client.put_result(execution_id, body, content_type), self.patience
            )
        except RemoteError as exc:
            raise StoreError(
                f"storing a result of {len(body)} bytes of execution {execution_id} on the "
                f"server failed: {exc}"
            ) from None

    async def get(self, ref: Mapping[str, Any]) -> Any:
        """Download and decode the body a ResultRef points at, checked against its sha256."""
        inner = ref[REF_KEY]
        key = str(inner["key"])
        try:
            body, served_as = await retrying(lambda: self.client.result(key), self.patience)
        except RemoteError as exc:
            raise StoreError(f"reading result {key} from the server failed: {exc}") from None
        if inner.get("sha256"):
            verified(key, body, str(inner["sha256"]))
        return decode(key, body, str(inner.get("content_type") or served_as))
