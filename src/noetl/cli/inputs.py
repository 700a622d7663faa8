"""Parsing what a person types: `--set key=value`, `--payload JSON|@file`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from noetl.errors import ConfigError


def parse_sets(items: list[str]) -> dict[str, Any]:
    """`a.b=1` -> {"a": {"b": 1}}; values are read as YAML scalars (numbers, booleans, lists)."""
    payload: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: expected key=value")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        target = payload
        parts = key.strip().split(".")
        for part in parts[:-1]:
            nested = target.setdefault(part, {})
            if not isinstance(nested, dict):
                raise ConfigError(f"--set {item!r}: {part!r} is already set to a value")
            target = nested
        target[parts[-1]] = value
    return payload


def parse_payload(text: str | None) -> dict[str, Any]:
    """`--payload` as inline JSON, or `@path` to a JSON or YAML file. Must be an object."""
    if not text:
        return {}
    where = "--payload"
    if text.startswith("@"):
        path = Path(text[1:])
        where = f"--payload {path}"
        try:
            text = path.read_text()
        except OSError as exc:
            raise ConfigError(f"{where}: cannot read the file ({exc.strerror})") from None
        loader: Any = yaml.safe_load
    else:
        loader = json.loads
    try:
        value = loader(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(
            f"{where}: not valid {'JSON' if loader is json.loads else 'YAML'}: {exc}"
        ) from None
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: must be a JSON object, got {type(value).__name__}")
    return value
