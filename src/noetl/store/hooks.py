"""The hook store port: webhooks that start a catalog playbook, each with its own secret.

Only a hash of the secret is stored (the secret itself is shown once, when the hook is made);
a caller's secret is checked by hashing it and comparing in constant time. Secrets are random
(256 bits), so one SHA-256 is enough: there is nothing to guess a password from. Adapters:
SQLite and PostgreSQL (`tests/contract/test_hook_store.py`).
"""

from __future__ import annotations

import builtins
import hashlib
import hmac
import re
import secrets
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from noetl.errors import ConfigError

NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,200}$")


@dataclass(frozen=True)
class Hook:
    """`POST /api/v2/hooks/{name}` with the secret starts catalog playbook `path`."""

    name: str
    path: str
    version: int | None
    secret_sha256: str
    created_at: str = ""

    def to_dict(self) -> dict[str, Any]:
        """What is shown of a hook: never its secret, nor the secret's hash."""
        shown = asdict(self)
        shown.pop("secret_sha256")
        return shown

    def accepts(self, given: str) -> bool:
        """Whether `given` is this hook's secret (compared in constant time)."""
        return hmac.compare_digest(hash_secret(given), self.secret_sha256)


def new_secret() -> str:
    """A fresh random secret (shown once, stored only hashed)."""
    return secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    """How a secret is stored."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def check_hook_name(name: str) -> None:
    """ConfigError unless `name` can be a URL path segment."""
    if not NAME.match(name):
        raise ConfigError(f"name: {name!r} must be 1-200 letters, digits, '_', '.' or '-'")


class HookStore(Protocol):
    """Webhooks by name."""

    async def add(self, hook: Hook) -> Hook:
        """Store a new hook (stamped); ConflictError when the name is taken."""
        ...

    async def get(self, name: str) -> Hook:
        """The hook called `name`; NotFoundError when there is none."""
        ...

    async def list(self) -> builtins.list[Hook]:
        """Every hook, by name."""
        ...

    async def delete(self, name: str) -> bool:
        """Remove a hook; True when it existed."""
        ...

    async def close(self) -> None:
        """Release resources. Idempotent."""
        ...
