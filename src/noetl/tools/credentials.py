"""Credentials as tools see them: the one lookup every tool uses, and the masking resolver.

A tool that names a credential (`auth: warehouse`, `attach: [{credential: pg}]`, `secrets`)
calls `lookup_credential`. Every way it can fail is a `ToolError` of kind `credential` naming the
step, the task, the field and the credential, never a value: no credential store in this
runtime, no credential by that name, one that cannot be decrypted or read, one without data.

The runtime installs a `MaskingCredentials` as `Resources.credentials`, so whatever a tool is
given is registered with its execution's masks before the tool sees it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from noetl.errors import CredentialError, NoetlError, NotFoundError, ToolError
from noetl.tools.base import CredentialResolver, ToolContext
from noetl.tools.masking import SecretMasks, current_execution


async def lookup_credential(ctx: ToolContext, name: str, field: str) -> Mapping[str, Any]:
    """The data of credential `name`, named by config field `field` of the running task."""
    where = f"step {ctx.step!r} task {ctx.task!r} field {field!r}"
    resolver = ctx.resources.credentials
    if resolver is None:
        message = f"credential {name!r} requested but no credential store is configured"
        raise ToolError(f"{where}: {message}", kind="credential")
    try:
        data = await resolver.get(name)
    except (CredentialError, NotFoundError) as exc:  # their messages name the credential
        raise ToolError(f"{where}: {exc}", kind="credential") from None
    except NoetlError as exc:  # the store itself failed (unreadable file, lost connection)
        raise ToolError(f"{where}: credential {name!r}: {exc}", kind="credential") from None
    if not isinstance(data, Mapping):
        raise ToolError(f"{where}: credential {name!r} holds no data", kind="credential")
    return data


class MaskingCredentials:
    """A credential resolver that registers what it returns with the running execution."""

    def __init__(self, inner: CredentialResolver, masks: SecretMasks) -> None:
        self.inner = inner
        self.masks = masks

    async def get(self, name: str) -> Mapping[str, Any]:
        """The credential's data (from the wrapped resolver), registered as secret."""
        data = await self.inner.get(name)
        execution_id = current_execution()
        if execution_id is not None:
            self.masks.add_credential(execution_id, data)
        return data
