"""Credentials: named connection data and secrets, encrypted at rest.

The store port (`CredentialStore`) keeps sealed bytes and never sees a value in clear. The
`Credentials` service seals and opens them with Fernet (from `cryptography`: AES-128-CBC plus an
HMAC-SHA256, so a wrong key or a tampered value is detected, never silently decoded) under the key
of `Settings.secret_key` (`NOETL_SECRET_KEY`). There is no fallback key: without one, reading or
writing a credential fails with a message saying how to make one (`noetl credentials keygen`);
listing and deleting work without it. The sealed value names its credential, so a value copied
onto another row is refused rather than handed to the wrong tool.

Tools receive the `Credentials` object as `Resources.credentials` and call `await get(name)`.
Credential types and the data each needs:

- `postgres`: `dsn`, or `host` (plus `port`, `user`, `password`, `dbname`...)
- `http`: `type` bearer (`token`), basic (`username`, `password`) or api_key (`value`, `header`)
- `generic`: any JSON object (read with the `secrets` tool)
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from noetl.errors import CredentialError, NotFoundError, UnknownCredentialError

CREDENTIAL_TYPES = ("postgres", "http", "generic")
KEY_HINT = "generate one with `noetl credentials keygen`"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-/]{0,199}")
_HTTP_FIELDS = {"bearer": ("token",), "basic": ("username", "password"), "api_key": ("value",)}


@dataclass(frozen=True)
class CredentialInfo:
    """What may be shown about a credential: never its data."""

    name: str
    type: str
    created_at: str
    updated_at: str

    def to_dict(self) -> dict[str, str]:
        """JSON-friendly form."""
        return asdict(self)


@dataclass(frozen=True)
class SealedCredential:
    """A credential as stored: its description and its encrypted data."""

    info: CredentialInfo
    token: bytes  # a Fernet token


class CredentialStore(Protocol):
    """Where sealed credentials live (SQLite in embedded mode, PostgreSQL for a server)."""

    async def put(self, name: str, type_: str, token: bytes) -> bool:
        """Insert or replace; True when the name was new."""
        ...

    async def get(self, name: str) -> SealedCredential | None:
        """The sealed credential, None when there is none by that name."""
        ...

    async def list(self) -> list[CredentialInfo]:
        """Every credential, ordered by name."""
        ...

    async def delete(self, name: str) -> bool:
        """Remove; True when it existed."""
        ...

    async def close(self) -> None:
        """Release the connection. Idempotent."""
        ...


def generate_key() -> str:
    """A new random key for `NOETL_SECRET_KEY` (url-safe base64 of 32 bytes)."""
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode("ascii")


class Credentials:
    """Seal, store, open: the credential service tools and the CLI use."""

    def __init__(self, store: CredentialStore, secret_key: str | None) -> None:
        self.store = store
        self._secret_key = secret_key
        self._fernet: Any = None  # built on first use: listing needs no key

    async def set(self, name: str, type_: str, data: Mapping[str, Any]) -> bool:
        """Check and store `data` under `name` (replacing it); True when the name was new."""
        check_name(name)
        check_data(name, type_, data)
        sealed = {"name": name, "type": type_, "data": dict(data)}
        token = self._cipher().encrypt(json.dumps(sealed).encode("utf-8"))
        return await self.store.put(name, type_, token)

    async def get(self, name: str) -> dict[str, Any]:
        """The data of credential `name`; UnknownCredentialError when there is none,
        CredentialError when it cannot be decrypted."""
        sealed = await self.store.get(name)
        if sealed is None:
            raise UnknownCredentialError(
                f"credential {name!r} not found (see `noetl credentials list`)"
            )
        return self._open(name, sealed.token)

    async def list(self) -> list[CredentialInfo]:
        """Names, types and times of every credential."""
        return await self.store.list()

    async def delete(self, name: str) -> None:
        """Remove credential `name`; NotFoundError when there is none."""
        if not await self.store.delete(name):
            raise NotFoundError(f"credential {name!r} not found")

    def _open(self, name: str, token: bytes) -> dict[str, Any]:
        from cryptography.fernet import InvalidToken

        try:
            sealed = json.loads(self._cipher().decrypt(token))
        except InvalidToken:
            raise CredentialError(
                f"credential {name!r} cannot be decrypted: NOETL_SECRET_KEY is not the key it "
                "was stored with, or the stored value was altered"
            ) from None
        if not isinstance(sealed, dict) or sealed.get("name") != name:
            raise CredentialError(f"stored value of credential {name!r} belongs to another name")
        data = sealed.get("data")
        return dict(data) if isinstance(data, dict) else {}

    def _cipher(self) -> Any:
        if self._fernet is None:
            self._fernet = make_cipher(self._secret_key)
        return self._fernet


def make_cipher(secret_key: str | None) -> Any:
    """A Fernet cipher for `secret_key`; CredentialError when it is missing or malformed."""
    if not secret_key:
        raise CredentialError(f"NOETL_SECRET_KEY is not set; {KEY_HINT}")
    try:
        from cryptography.fernet import Fernet
    except ImportError:  # pragma: no cover - cryptography comes with the `tools` extra
        raise CredentialError(
            "credentials need the `cryptography` package (pip install 'noetl[tools]')"
        ) from None
    try:
        return Fernet(secret_key.strip().encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        # The message never repeats the key: it is a secret even when it is a wrong one.
        raise CredentialError(
            f"NOETL_SECRET_KEY is not a valid key (expected 32 url-safe base64-encoded bytes); "
            f"{KEY_HINT}"
        ) from None


def check_name(name: str) -> None:
    """Refuse names a playbook could not reference plainly."""
    if not _NAME.fullmatch(name):
        raise CredentialError(
            f"invalid credential name {name!r}: use letters, digits, '_', '-', '.', '/' "
            "(starting with a letter or digit, at most 200 characters)"
        )


def check_data(name: str, type_: str, data: Any) -> None:
    """Refuse data the credential's type cannot be used with (names fields, never values)."""
    if type_ not in CREDENTIAL_TYPES:
        raise CredentialError(
            f"credential {name!r}: unknown type {type_!r} (expected {', '.join(CREDENTIAL_TYPES)})"
        )
    if not isinstance(data, Mapping) or not data:
        raise CredentialError(f"credential {name!r}: data must be a non-empty JSON object")
    if type_ == "postgres" and not (data.get("dsn") or data.get("host")):
        raise CredentialError(f"credential {name!r} of type postgres needs `dsn` or `host`")
    if type_ == "http":
        auth = str(data.get("type", "")).lower()
        needed = _HTTP_FIELDS.get(auth)
        if needed is None:
            raise CredentialError(
                f"credential {name!r} of type http needs `type`: bearer, basic or api_key"
            )
        missing = [field for field in needed if not data.get(field)]
        if missing:
            raise CredentialError(f"credential {name!r} ({auth}) lacks {', '.join(missing)}")
    try:
        json.dumps(dict(data))
    except (TypeError, ValueError) as exc:
        raise CredentialError(f"credential {name!r}: data is not JSON: {exc}") from None
