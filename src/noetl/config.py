"""Settings, parsed once. The only module that reads the environment.

Every setting has an environment variable (`NOETL_*`); CLI flags override them by passing keyword
arguments to `Settings.load(...)`.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from noetl.errors import ConfigError


def default_worker_id() -> str:
    """`host:pid`: what names a worker process unless `NOETL_WORKER_ID` / `--worker-id` does."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class Settings:
    """Runtime configuration of one NoETL process."""

    home: Path = Path(".noetl")
    db: Path | None = None  # SQLite file; default <home>/noetl.db
    workers: int = 4
    inline_limit: int = 64 * 1024  # results larger than this are stored by reference
    # Bytes of stored results the control plane loads per execution for its templates (loop.in,
    # guards, arc args, set_ctx); a template reading one past it fails (docs/dsl.md).
    control_read_limit: int = 16 * 1024 * 1024
    max_result_bytes: int = 256 * 1024 * 1024  # largest result upload the server accepts
    max_execution_result_bytes: int = 1024 * 1024 * 1024  # all result uploads of one execution
    secret_key: str | None = None  # key that encrypts credentials at rest
    api_token: str | None = None  # bearer token the server requires, when set (admin: all)
    worker_token: str | None = None  # a second token for workers: worker routes only
    allow_open: bool = False  # bind a non-loopback address without a token (warned about)
    pg_dsn: str | None = None
    nats_url: str | None = None
    server_url: str = "http://127.0.0.1:8082"
    host: str = "127.0.0.1"
    port: int = 8082
    pool: str = "default"
    ack_wait: int = 30  # seconds a worker's lease on a command lasts before it is redelivered
    prune_after: str | None = None  # servers remove executions finished longer ago ("30d")
    # Budgets of one request or render (noetl.dsl.budget; docs/operations.md "Limits").
    yaml_max_nodes: int = 1_000_000  # YAML nodes of a playbook once its aliases are expanded
    parse_timeout: float = 10.0  # seconds the server gives a playbook to load and validate
    template_cpu_seconds: float = 0.5  # CPU time of one template render
    template_iterations: int = 100_000  # loop iterations of one template render
    template_max_chars: int = 10_000_000  # longest string or list a template may build
    worker_id: str = field(default_factory=default_worker_id)  # names a worker process
    heartbeat: int = 5  # seconds between a worker's heartbeats; lost after 3 missed ones
    log_level: str = "warning"  # debug | info | warning | error | critical
    log_format: str = "text"  # text | json (one object per line)

    @property
    def db_path(self) -> Path:
        """SQLite file of the embedded mode."""
        return self.db if self.db is not None else self.home / "noetl.db"

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from the environment (`NOETL_<FIELD>`), then non-None `overrides`."""
        source = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = source.get(f"NOETL_{f.name.upper()}")
            if raw is not None and raw != "":
                values[f.name] = _coerce(f.name, raw, cls.__dataclass_fields__[f.name].default)
        settings = cls(**values)
        given = {k: v for k, v in overrides.items() if v is not None}
        for name in ("home", "db"):
            if name in given:
                given[name] = Path(given[name])
        return replace(settings, **given) if given else settings


def otlp_endpoint() -> str | None:
    """Where traces go over OTLP (`OTEL_EXPORTER_OTLP_ENDPOINT`, or its traces-only variant);
    None: nothing is exported. The exporter reads the other `OTEL_*` settings itself."""
    for name in ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"):
        if os.environ.get(name):
            return os.environ[name]
    return None


def child_environment(changes: Mapping[str, str | None]) -> dict[str, str]:
    """This process's environment with `changes` applied (None removes a variable): what a
    subprocess gets when it must see settings its parent was not started with."""
    environment = dict(os.environ)
    for name, value in changes.items():
        if value is None:
            environment.pop(name, None)
        else:
            environment[name] = value
    return environment


def read_env(name: str) -> str | None:
    """The value of environment variable `name` (None when unset): the `env` secrets provider."""
    return os.environ.get(name)


def _coerce(name: str, raw: str, default: Any) -> Any:
    """Convert an environment string to the type of the field's default."""
    if name in ("home", "db"):
        return Path(raw)
    if isinstance(default, bool):
        return raw.lower() in ("1", "true", "yes", "on")
    if isinstance(default, float):
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(f"NOETL_{name.upper()} must be a number, got {raw!r}") from None
    if isinstance(default, int):
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"NOETL_{name.upper()} must be an integer, got {raw!r}") from None
    return raw


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# The longest duration an option takes: a time that far back or ahead is still a date, while
# an unbounded one (`99999999999d`, `inf`) overflowed Python's datetime arithmetic.
MAX_DURATION = 100 * 365 * 86400.0  # seconds (100 years)


def parse_duration(text: str, option: str) -> float:
    """`30`, `30s`, `5m`, `2h`, `30d`, `1w` -> seconds; ConfigError naming the option."""
    raw = text.strip().lower()
    unit = raw[-1:] if raw[-1:] in _UNITS else "s"
    number = raw[:-1] if raw[-1:] in _UNITS else raw
    try:
        value = float(number) * _UNITS[unit]
    except ValueError:
        raise ConfigError(
            f"{option} {text!r}: expected a duration such as 30s, 5m, 2h, 30d"
        ) from None
    if not value > 0:
        raise ConfigError(f"{option} {text!r}: must be more than 0")
    if value > MAX_DURATION:
        raise ConfigError(f"{option} {text!r}: must be at most 100 years (36500d)")
    return value


# libpq's words for a connection setting it refuses before it connects at all (fe-connect.c):
# `invalid sslmode value: "x"`, `invalid "ssl_min_protocol_version" value: "x"`,
# `invalid integer value "x" for connection option "port"`, `invalid port number: "x"`.
_REFUSED_SETTING = re.compile(
    r'for connection option "(?P<option>\w+)"'
    r'|invalid "?(?P<named>\w+)"? value:'
    r"|invalid (?P<port>port) number"
)


def refused_dsn_setting(driver_message: str) -> str | None:
    """The PostgreSQL connection setting (`sslmode`, `port`...) libpq refused as invalid, read
    from its message; None for anything else. A refused setting is a configuration error:
    connecting again cannot help, so it must not be retried as a lost connection. (Used by the
    event store and the `postgres` tool alike; neither may import the other.)"""
    found = _REFUSED_SETTING.search(driver_message)
    if found is None:
        return None
    return found.group("option") or found.group("named") or found.group("port")
