"""Event types and their one JSON codec.

An event is a fact in an execution's append-only log. `seq` and `event_id` are assigned when
the event is appended; `created_at` is when it happened: the worker stamps its own events as they
happen (each task attempt its own time), the store stamps the rest at append (the engine has no
clock). Everything else is decided by the producer. `origin` says who produced it: the `engine`
(decisions), a `worker` (what happened while running a command), the `runtime` (lease expiry,
dead letters) or a `client` (cancel).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from noetl.errors import EventCodecError

SCHEMA_VERSION = 1

PLAYBOOK_STARTED = "playbook.started"
PLAYBOOK_DONE = "playbook.done"
PLAYBOOK_FAILED = "playbook.failed"
PLAYBOOK_CANCELLED = "playbook.cancelled"
STEP_STARTED = "step.started"
STEP_SKIPPED = "step.skipped"
STEP_DONE = "step.done"
STEP_FAILED = "step.failed"
STEP_REUSED = "step.reused"  # a retry took a step run's result from an earlier execution
LOOP_STARTED = "loop.started"
LOOP_DONE = "loop.done"
COMMAND_ISSUED = "command.issued"
COMMAND_CLAIMED = "command.claimed"
COMMAND_STARTED = "command.started"
COMMAND_EXPIRED = "command.expired"
COMMAND_DEAD = "command.dead"
TASK_DONE = "task.done"
TASK_FAILED = "task.failed"
CTX_SET = "ctx.set"  # a step's or an arc's set_ctx, applied by the engine

EVENT_TYPES = frozenset(
    {
        PLAYBOOK_STARTED,
        PLAYBOOK_DONE,
        PLAYBOOK_FAILED,
        PLAYBOOK_CANCELLED,
        STEP_STARTED,
        STEP_SKIPPED,
        STEP_DONE,
        STEP_FAILED,
        STEP_REUSED,
        LOOP_STARTED,
        LOOP_DONE,
        COMMAND_ISSUED,
        COMMAND_CLAIMED,
        COMMAND_STARTED,
        COMMAND_EXPIRED,
        COMMAND_DEAD,
        TASK_DONE,
        TASK_FAILED,
        CTX_SET,
    }
)
# What a worker may report, and only on a command it holds; every other type is the server's.
WORKER_EVENT_TYPES = frozenset({TASK_DONE, TASK_FAILED, COMMAND_STARTED, STEP_DONE, STEP_FAILED})
TERMINAL_PLAYBOOK = frozenset({PLAYBOOK_DONE, PLAYBOOK_FAILED, PLAYBOOK_CANCELLED})
ORIGINS = frozenset({"engine", "worker", "runtime", "client"})

# How a frozen dataclass sets its own fields (see `Event.stamped`).
_new = object.__new__
_set = object.__setattr__


@dataclass(frozen=True, slots=True)
class Event:
    """One entry of an execution's event log."""

    type: str
    execution_id: str
    step: str | None = None
    iteration: int | None = None
    command_id: str | None = None
    payload: Mapping[str, Any] = field(default_factory=dict)
    origin: str = ""  # "" infers it from the type (see `default_origin`)
    idempotency_key: str | None = None
    seq: int | None = None
    event_id: str | None = None
    created_at: str | None = None
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        if self.type not in EVENT_TYPES:
            raise EventCodecError(f"unknown event type {self.type!r}")
        if not self.origin:
            object.__setattr__(self, "origin", default_origin(self.type, self.command_id))
        if self.origin not in ORIGINS:
            raise EventCodecError(f"unknown event origin {self.origin!r}")

    @property
    def key(self) -> str:
        """The idempotency key: given, else derived from what identifies the fact."""
        if self.idempotency_key:
            return self.idempotency_key
        return f"{self.type}|{self.step}|{self.command_id}|{self.iteration}"

    def stamped(self, *, seq: int, event_id: str, created_at: str) -> Event:
        """A copy carrying what the store assigns at append time: `seq`, `event_id` and, unless
        the event says when it happened (a worker's task attempt), `created_at`; a derived
        idempotency key is written out, so the event appended equals the one read back.

        Built field by field rather than through `__init__` or `dataclasses.replace`: the
        store stamps every event it appends, and this one was checked when it was made
        (half the cost of a checked construction).
        """
        copy = _new(Event)
        _set(copy, "type", self.type)
        _set(copy, "execution_id", self.execution_id)
        _set(copy, "step", self.step)
        _set(copy, "iteration", self.iteration)
        _set(copy, "command_id", self.command_id)
        _set(copy, "payload", self.payload)
        _set(copy, "origin", self.origin)
        _set(copy, "idempotency_key", self.key)
        _set(copy, "seq", seq)
        _set(copy, "event_id", event_id)
        _set(copy, "created_at", self.created_at or created_at)
        _set(copy, "schema_version", self.schema_version)
        return copy

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form (the JSON object of the codec)."""
        return {
            "schema_version": self.schema_version,
            "type": self.type,
            "execution_id": self.execution_id,
            "seq": self.seq,
            "event_id": self.event_id,
            "created_at": self.created_at,
            "step": self.step,
            "iteration": self.iteration,
            "command_id": self.command_id,
            "origin": self.origin,
            "idempotency_key": self.key,
            "payload": dict(self.payload),
        }

    def to_json(self) -> str:
        """Serialise to one line of JSON."""
        return json.dumps(self.to_dict(), separators=(",", ":"), default=_json_default)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Event:
        """Decode the dict form, rejecting unknown types and schema versions."""
        version = data.get("schema_version", SCHEMA_VERSION)
        if version != SCHEMA_VERSION:
            raise EventCodecError(f"unsupported event schema_version {version!r}")
        try:
            return cls(
                type=data["type"],
                execution_id=str(data["execution_id"]),
                step=data.get("step"),
                iteration=data.get("iteration"),
                command_id=data.get("command_id"),
                payload=dict(data.get("payload") or {}),
                origin=data.get("origin") or "",
                idempotency_key=data.get("idempotency_key"),
                seq=data.get("seq"),
                event_id=data.get("event_id"),
                created_at=data.get("created_at"),
            )
        except KeyError as exc:
            raise EventCodecError(f"event is missing field {exc.args[0]!r}") from None

    @classmethod
    def from_json(cls, text: str) -> Event:
        """Decode one JSON line."""
        return cls.from_dict(json_object(text, "event"))


_WORKER_TYPES = frozenset({TASK_DONE, TASK_FAILED, COMMAND_STARTED})
_RUNTIME_TYPES = frozenset({COMMAND_CLAIMED, COMMAND_EXPIRED, COMMAND_DEAD})


def default_origin(type_: str, command_id: str | None) -> str:
    """Who produces an event of this type when nobody says: step endings that name a command
    come from workers, lease and delivery facts from the runtime, cancellation from a client,
    everything else from the engine."""
    if type_ in _WORKER_TYPES or (type_ in (STEP_DONE, STEP_FAILED) and command_id):
        return "worker"
    if type_ in _RUNTIME_TYPES:
        return "runtime"
    if type_ == PLAYBOOK_CANCELLED:
        return "client"
    return "engine"


def json_object(text: str, what: str) -> dict[str, Any]:
    """`text` decoded, when it is one JSON object; else EventCodecError naming `what`."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise EventCodecError(f"{what} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise EventCodecError(f"{what} JSON must be an object")
    return data


def _json_default(value: Any) -> Any:
    """Make common non-JSON values (tuples, sets, dates, decimals, bytes) serialisable."""
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, Mapping):
        return dict(value)
    return str(value)
