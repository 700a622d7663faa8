"""Commands: the unit of work the engine hands to workers (one step run or one loop iteration)."""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from noetl.engine import events as ev
from noetl.engine.events import SCHEMA_VERSION, Event, _json_default, json_object
from noetl.errors import EventCodecError


def command_id_for(
    execution_id: str, step: str, token: int, iteration: int | None, epoch: int
) -> str:
    """Deterministic command id: the same decision always names the same command."""
    it = "-" if iteration is None else str(iteration)
    return f"{execution_id}:{step}:{token}:{epoch}:{it}"


@dataclass(frozen=True, slots=True)
class Command:
    """Run `step`'s pipeline once (for one iteration when the step loops).

    `iter` is the iteration scope (`{<iterator>: item, index, first, last}`) or None; `args` the
    payload of the token that activated the step. What else the worker's templates see
    (workload, ctx, earlier results) is assembled by the runtime from the execution state.
    """

    command_id: str
    execution_id: str
    step: str
    token: int
    epoch: int = 0
    iteration: int | None = None
    args: Mapping[str, Any] = field(default_factory=dict)
    iter: Mapping[str, Any] | None = None
    pool: str = "default"
    timeout: float | None = None  # step timeout in seconds
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form."""
        return {
            "schema_version": self.schema_version,
            "command_id": self.command_id,
            "execution_id": self.execution_id,
            "step": self.step,
            "token": self.token,
            "epoch": self.epoch,
            "iteration": self.iteration,
            "args": dict(self.args),
            "iter": None if self.iter is None else dict(self.iter),
            "pool": self.pool,
            "timeout": self.timeout,
        }

    def to_json(self) -> str:
        """Serialise to JSON."""
        return json.dumps(self.to_dict(), separators=(",", ":"), default=_json_default)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Command:
        """Decode the dict form."""
        version = data.get("schema_version", SCHEMA_VERSION)
        if version != SCHEMA_VERSION:
            raise EventCodecError(f"unsupported command schema_version {version!r}")
        try:
            return cls(
                command_id=data["command_id"],
                execution_id=str(data["execution_id"]),
                step=data["step"],
                token=int(data["token"]),
                epoch=int(data.get("epoch", 0)),
                iteration=data.get("iteration"),
                args=dict(data.get("args") or {}),
                iter=data.get("iter"),
                pool=data.get("pool", "default"),
                timeout=data.get("timeout"),
            )
        except KeyError as exc:
            raise EventCodecError(f"command is missing field {exc.args[0]!r}") from None

    @classmethod
    def from_json(cls, text: str) -> Command:
        """Decode JSON."""
        return cls.from_dict(json_object(text, "command"))


def expired_event(command: Command) -> Event:
    """The runtime's `command.expired`: the command ran past its step timeout."""
    return Event(
        ev.COMMAND_EXPIRED,
        command.execution_id,
        command.step,
        command.iteration,
        command.command_id,
        {"timeout": command.timeout},
        origin="runtime",
        idempotency_key=f"command.expired|{command.command_id}",
    )


@functools.lru_cache(maxsize=4096)
def claim_digest(token: str) -> str:
    """The SHA-256 (hex) of a claim token: what the log keeps of it.

    The token is a bearer secret (it authorizes reports, lease renewals and credential
    reveals), and whoever reads the log must not learn it. A plain hash suffices: tokens are
    128 random bits, so no digest can be reversed by guessing, and no server secret is needed
    (replicas and restarts check digests without sharing one). Kept for the tokens of the
    commands running now: each is hashed when its claim is written and again for every report
    and renewal its holder sends."""
    return hashlib.sha256(token.encode()).hexdigest()


def claimed_event(command: Command, worker_id: str, token: str) -> Event:
    """The runtime's `command.claimed`: `worker_id` holds the command now, and only reports
    that echo `token` are accepted for it (the event keeps only its `claim_digest`)."""
    digest = claim_digest(token)
    return Event(
        ev.COMMAND_CLAIMED,
        command.execution_id,
        command.step,
        command.iteration,
        command.command_id,
        {"worker_id": worker_id, "claim_token_sha256": digest},
        origin="runtime",
        idempotency_key=f"command.claimed|{command.command_id}|{digest}",
    )


def dead_event(execution_id: str, step: str, command_id: str) -> Event:
    """The runtime's `command.dead`: the bus gave up delivering the command."""
    return Event(
        ev.COMMAND_DEAD,
        execution_id,
        step,
        command_id=command_id,
        origin="runtime",
        idempotency_key=f"command.dead|{command_id}",
    )
