"""Secret masking: what a task reveals never leaves the worker in clear.

Every secret value a task reveals is registered for its execution in a `SecretMasks` (held by
the worker's `Resources.masks`): the `secrets` tool registers its result, and the credential
resolver wrapped in `MaskingCredentials` (`noetl.tools.credentials`) registers the data of
every credential a tool fetches.
The pipeline (`noetl.worker.pipeline`) masks each event it emits: every string in the payload
(results, errors, exception messages, vars, ctx changes, nested at any depth, dict keys too)
that contains a registered value gets it replaced by `***`.

Rules worth knowing:

- Values shorter than `MIN_MASKED_LENGTH` (4) characters are not masked: replacing every "1" or
  "ab" would mangle all output while protecting nothing a guess would not find.
- Credential fields that describe where to connect rather than how to prove who you are (host,
  port, user, database...) are not registered, so results that mention `postgres` or
  `localhost` stay readable. Every other field is (password, token, dsn, value...).
- A secret's URL-encoded and JSON-escaped forms are masked too, and so is the basic-auth header
  value of an http credential; other encodings are not: a task that re-encodes a secret must
  not return it.
- Events are masked, so the next *step* sees `***`: use a secret within the pipeline (the
  `tool:` list) of the step that reads it, where `_prev` carries the clear value.
- Masks are per execution and kept for the `EXECUTION_LIMIT` most recently active executions.

The execution a credential is fetched for is known through a context variable that
`masking_execution` sets around a command's run (tools call `credentials.get(name)` with only
the name).
"""

from __future__ import annotations

import base64
import json
import re
import sys
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TextIO
from urllib.parse import quote, urlsplit

MASK = "***"
MIN_MASKED_LENGTH = 4
EXECUTION_LIMIT = 100_000
# Credential fields that locate a service rather than authenticate to it: not registered.
NOT_SECRET_FIELDS = frozenset(
    {
        "type",
        "host",
        "hostname",
        "hostaddr",
        "port",
        "dbname",
        "database",
        "db",
        "user",
        "username",
        "sslmode",
        "schema",
        "header",
        "connect_timeout",
    }
)
_CONNINFO_PASSWORD = re.compile(r"password\s*=\s*(?:'((?:[^'\\]|\\.)*)'|(\S+))")

_current_execution: ContextVar[str | None] = ContextVar("noetl_masked_execution", default=None)


class masking_execution:  # lower case: read as a call, `with masking_execution(id):`
    """Within this block, credentials fetched through `MaskingCredentials` are registered for
    `execution_id` (asyncio tasks and threads started inside inherit it). A class, not a
    generator context manager: it is entered on every command."""

    __slots__ = ("_execution_id", "_token")

    def __init__(self, execution_id: str) -> None:
        self._execution_id = execution_id

    def __enter__(self) -> None:
        self._token = _current_execution.set(self._execution_id)

    def __exit__(self, *exc: object) -> None:
        _current_execution.reset(self._token)


def current_execution() -> str | None:
    """The execution whose command is running in this context, if any."""
    return _current_execution.get()


class SecretMasks:
    """The secret values revealed so far, per execution, and masking with them."""

    def __init__(self, limit: int = EXECUTION_LIMIT) -> None:
        self._limit = limit
        self._values: OrderedDict[str, set[str]] = OrderedDict()
        self._patterns: dict[str, re.Pattern[str] | None] = {}
        self._everything: re.Pattern[str] | None = None
        self._everything_stale = False
        # Tasks print from worker threads (`mask_all`) while the event loop registers values.
        self._lock = threading.Lock()

    def add(self, execution_id: str, value: Any) -> None:
        """Register every string (and number) inside `value` as a secret of the execution."""
        found: set[str] = set()
        _collect(value, found)
        self._register(execution_id, found)

    def add_credential(self, execution_id: str, data: Any) -> None:
        """Register a credential's data, except the fields that only locate a service."""
        if not isinstance(data, Mapping):
            self.add(execution_id, data)
            return
        found: set[str] = set()
        for field, value in data.items():
            if str(field).lower() in NOT_SECRET_FIELDS:
                continue
            _collect(value, found)
            if str(field).lower() in ("dsn", "url", "uri") and isinstance(value, str):
                found.update(_dsn_passwords(value))
        if str(data.get("type", "")).lower() == "basic" and data.get("password"):
            # What an HTTP basic-auth header carries (an echoing server sends it back).
            pair = f"{data.get('username', '')}:{data['password']}".encode()
            found.add(base64.b64encode(pair).decode("ascii"))
        self._register(execution_id, found)

    def values(self, execution_id: str) -> frozenset[str]:
        """The registered values of the execution (every masked form)."""
        with self._lock:
            return frozenset(self._values.get(execution_id, ()))

    def mask(self, execution_id: str, value: Any) -> Any:
        """`value` with the execution's secrets replaced by `***`.

        Copy on write: containers without a secret are returned as they are (same object), so
        an untouched large result costs no copy and keeps its identity.
        """
        pattern = self._pattern(execution_id)
        return value if pattern is None else _masked(value, pattern)

    def mask_all(self, text: str) -> str:
        """`text` with the secrets of every execution masked (process-wide output)."""
        with self._lock:
            if self._everything_stale:
                every = set().union(*self._values.values()) if self._values else set()
                self._everything = _compile(every)
                self._everything_stale = False
            pattern = self._everything
        if pattern is None:
            return text
        result: str = _masked(text, pattern)
        return result

    def forget(self, execution_id: str) -> None:
        """Drop the execution's values (it has ended and its events are written)."""
        with self._lock:
            if self._values.pop(execution_id, None) is not None:
                self._patterns.pop(execution_id, None)
                self._everything_stale = True

    def _register(self, execution_id: str, found: set[str]) -> None:
        forms = {form for value in found for form in _forms(value)}
        if not forms:
            return
        with self._lock:
            self._add_forms(execution_id, forms)

    def _add_forms(self, execution_id: str, forms: set[str]) -> None:
        """Record `forms` for the execution (the caller holds the lock)."""
        known = self._values.get(execution_id)
        if known is None:
            known = self._values[execution_id] = set()
            while len(self._values) > self._limit:
                oldest, _ = self._values.popitem(last=False)
                self._patterns.pop(oldest, None)
        else:
            self._values.move_to_end(execution_id)
        if forms <= known:
            return
        known.update(forms)
        self._patterns.pop(execution_id, None)
        self._everything_stale = True

    def _pattern(self, execution_id: str) -> re.Pattern[str] | None:
        with self._lock:
            if execution_id not in self._values:
                return None
            if execution_id not in self._patterns:
                self._patterns[execution_id] = _compile(self._values[execution_id])
            return self._patterns[execution_id]


class MaskedStream:
    """A text stream that masks every secret known to `masks` in what is written to it.

    Installed over stdout/stderr by `masked_output`, so `print(secret)` in a python task shows
    `***`. Masking works per `write` call: a secret split across two writes is not recognised
    (`print` writes each argument whole).
    """

    def __init__(self, stream: TextIO, masks: SecretMasks) -> None:
        self._stream = stream
        self._masks = masks

    def write(self, text: str) -> int:
        """Write `text` with secrets masked."""
        self._stream.write(self._masks.mask_all(text))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextmanager
def masked_output(masks: SecretMasks, *, stdout_to_stderr: bool = False) -> Iterator[None]:
    """Mask secrets in everything this process writes to stdout and stderr within the block.

    `stdout_to_stderr` sends what tasks print to stderr, keeping stdout for a machine-readable
    outcome (`noetl run --json`).
    """
    saved = sys.stdout, sys.stderr
    sys.stdout = MaskedStream(saved[1] if stdout_to_stderr else saved[0], masks)
    sys.stderr = MaskedStream(saved[1], masks)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved


def _collect(value: Any, found: set[str]) -> None:
    """Every string and number inside `value`."""
    if isinstance(value, str):
        found.add(value)
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int | float):
        found.add(str(value))
    elif isinstance(value, Mapping):
        for item in value.values():
            _collect(item, found)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            _collect(item, found)


def _forms(value: str) -> set[str]:
    """The forms of a secret to mask: as is, URL-encoded, JSON-escaped (long enough ones)."""
    forms = {value, quote(value, safe=""), json.dumps(value)[1:-1]}
    return {form for form in forms if len(form) >= MIN_MASKED_LENGTH}


def _dsn_passwords(dsn: str) -> set[str]:
    """The password inside a connection URL or a libpq `key=value` string."""
    found: set[str] = set()
    try:
        password = urlsplit(dsn).password if "://" in dsn else None
    except ValueError:
        password = None
    if password:
        found.add(password)
    for quoted, plain in _CONNINFO_PASSWORD.findall(dsn):
        found.add(quoted or plain)
    return found


def _compile(values: set[str]) -> re.Pattern[str] | None:
    """One alternation of the values, longest first so a longer secret is masked whole."""
    if not values:
        return None
    ordered = sorted(values, key=lambda v: (-len(v), v))
    return re.compile("|".join(re.escape(v) for v in ordered))


def _masked(value: Any, pattern: re.Pattern[str]) -> Any:
    if isinstance(value, str):
        new, count = pattern.subn(MASK, value)
        return new if count else value
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return MASK if pattern.fullmatch(str(value)) else value
    if isinstance(value, Mapping):
        changed = False
        out: dict[Any, Any] = {}
        for key, item in value.items():
            new_key, new_item = _masked(key, pattern), _masked(item, pattern)
            changed = changed or new_key is not key or new_item is not item
            out[new_key] = new_item
        return out if changed else value
    if isinstance(value, list | tuple):
        items = [_masked(item, pattern) for item in value]
        if all(new is old for new, old in zip(items, value, strict=True)):
            return value
        return items if isinstance(value, list) else tuple(items)
    return value
