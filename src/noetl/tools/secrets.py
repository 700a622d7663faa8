"""`secrets`: read a secret; the result is `{value: ...}` and the value is masked in events.

Fields:
- `name`: what to read: a credential name (`store`), an environment variable (`env`) or a file
  path (`file`, relative to the worker's working directory).
- `provider`: `store` (default: the credential store, see `noetl credentials`), `env` or `file`.
- `key`: `store` only: one field of the credential's data instead of all of it.

The value is registered with the execution's masks (`noetl.tools.masking`), so every event
shows it as `***`. Use it in the later tasks of the same step (`_prev.value`): the next step
only sees the masked form.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from noetl.config import read_env
from noetl.errors import ToolError
from noetl.tools.base import ToolContext
from noetl.tools.credentials import lookup_credential

PROVIDERS = ("store", "env", "file")


class SecretsTool:
    """Reads a secret from the credential store, the environment or a file."""

    kind: ClassVar[str] = "secrets"

    async def run(self, config: Mapping[str, Any], ctx: ToolContext) -> Any:
        """Read the secret named by `config`, register it for masking, return `{value}`."""
        name = config.get("name")
        if not isinstance(name, str) or not name.strip():
            raise _error(ctx, "name", "a non-empty string is required", kind="config")
        provider = config.get("provider") or "store"
        if provider not in PROVIDERS:
            message = f"unknown provider {provider!r} (expected {', '.join(PROVIDERS)})"
            raise _error(ctx, "provider", message, kind="config")
        key = config.get("key")
        if key is not None and provider != "store":
            raise _error(ctx, "key", f"only the store provider has keys, not {provider}", "config")
        masks = ctx.resources.masks
        if provider == "store":
            data = await _from_store(name, ctx)
            if key is None:
                masks.add_credential(ctx.execution_id, data)
                return {"value": data}
            value = _field(data, str(key), name, ctx)
        elif provider == "env":
            value = _from_env(name, ctx)
        else:
            value = _from_file(name, ctx)
        masks.add(ctx.execution_id, value)
        return {"value": value}


async def _from_store(name: str, ctx: ToolContext) -> Mapping[str, Any]:
    return await lookup_credential(ctx, name, "name")


def _field(data: Mapping[str, Any], key: str, name: str, ctx: ToolContext) -> Any:
    if key not in data:
        # Field names are not secret; listing them tells the author what to write instead.
        fields = ", ".join(sorted(str(k) for k in data)) or "none"
        message = f"credential {name!r} has no field {key!r} (fields: {fields})"
        raise _error(ctx, "key", message, kind="credential")
    return data[key]


def _from_env(name: str, ctx: ToolContext) -> str:
    value = read_env(name)
    if value is None:
        raise _error(ctx, "name", f"environment variable {name!r} is not set", "credential")
    return value


def _from_file(name: str, ctx: ToolContext) -> str:
    path = Path(name).expanduser()
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise _error(ctx, "name", f"secret file {name!r} does not exist", "credential") from None
    except (OSError, UnicodeDecodeError) as exc:
        # The OS message names the file and the reason (permission, directory), never content.
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        message = f"secret file {name!r} cannot be read: {reason}"
        raise _error(ctx, "name", message, kind="credential") from None


def _error(ctx: ToolContext, field: str, message: str, kind: str) -> ToolError:
    return ToolError(f"step {ctx.step!r} task {ctx.task!r} field {field!r}: {message}", kind=kind)
