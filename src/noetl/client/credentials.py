"""The server's credentials over its REST API: what distributed workers resolve names with, and
what `noetl credentials ... --server` manages.

`RemoteCredentials` has the methods of `noetl.store.credentials.Credentials` (`set`, `get`,
`list`, `delete`), so tools and the CLI use either without knowing which. The server holds the
key and decrypts; a worker holds only its token, and is told a credential only for a command it
holds (the claim of the command it runs: `noetl.worker.source.held_command`).

Nothing is cached: every `get` is one request, made when a task needs the credential. A
credential replaced or deleted on the server is seen by the next task, and decrypted data lives
in a worker only as long as the task that uses it (masking registers it for its execution).
While the server is unreachable (restarting) or failing, `get` retries for `patience` seconds,
like the worker's reports; a server without the key (503) is a configuration error and is
reported at once.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from noetl.client.transport import ServerClient, retrying, unavailable
from noetl.errors import CredentialError, NoetlError, NotFoundError, RemoteError
from noetl.store.credentials import CredentialInfo
from noetl.worker.source import held_command


class RemoteCredentials:
    """The credential service of a NoETL server, through `client`."""

    def __init__(self, client: ServerClient, *, patience: float = 300.0) -> None:
        self.client = client
        self.patience = patience  # seconds to keep retrying while the server is unreachable

    async def get(self, name: str) -> dict[str, Any]:
        """The decrypted data of credential `name`; CredentialError saying why when the server
        has none by that name, cannot decrypt it, or cannot be reached."""
        held = held_command()  # the server reveals only for a command the worker holds
        body = None
        if held is not None:
            command = held.command
            body = {
                "execution_id": command.execution_id,
                "command_id": command.command_id,
                "claim_token": held.token,
            }
        try:
            answer = await retrying(
                lambda: self.client.call("POST", f"{_path(name)}/reveal", body=body),
                self.patience,
                transient=_passing,
            )
        except NotFoundError as exc:
            raise CredentialError(str(exc)) from None
        except NoetlError as exc:
            raise CredentialError(f"credential {name!r} could not be read: {exc}") from None
        data = answer.get("data") if isinstance(answer, Mapping) else None
        if not isinstance(data, Mapping):
            raise CredentialError(f"credential {name!r}: the server answered without its data")
        return dict(data)

    async def set(self, name: str, type_: str, data: Mapping[str, Any]) -> bool:
        """Create or replace credential `name` on the server; True when the name was new."""
        body = {"type": type_, "data": dict(data)}
        answer = await self.client.call("PUT", _path(name), body=body)
        return bool(answer["created"])

    async def list(self) -> builtins.list[CredentialInfo]:
        """Names, types and times of the server's credentials."""
        return [CredentialInfo(**row) for row in await self.client.call("GET", "/credentials")]

    async def delete(self, name: str) -> None:
        """Remove credential `name` from the server; NotFoundError when there is none."""
        await self.client.call("DELETE", _path(name))


def _passing(exc: RemoteError) -> bool:
    return unavailable(exc) and exc.status != 503  # 503: the server has no key


def _path(name: str) -> str:
    # Quoted whole: a name may hold '/' and '..', which must not become URL path segments.
    return f"/credentials/{quote(name, safe='')}"
