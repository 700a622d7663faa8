"""What NoETL keeps on a NATS JetStream server: names, the pointer format, stream and consumers.

- stream (default `NOETL_COMMANDS`): subjects `noetl.commands.>`, file storage, work-queue
  retention (a message is gone once acked);
- one durable pull consumer per pool, `noetl-worker-<pool>`, filtered on `noetl.commands.<pool>`,
  explicit ack, with the bus's `ack_wait` and `max_deliver`;
- a pointer is the JSON `{execution_id, command_id, step}`; its pool is the last subject token.

Both are created when missing. An existing stream or consumer whose settings contradict these
(subjects, retention, storage; filter, ack policy, push delivery) is refused with a `BusError`
naming the setting and both values: NoETL never rewrites a stream it did not expect. A consumer's
`ack_wait` and `max_deliver` are updated to the bus's (the last bus to bind a pool sets them).

Cancel notices are not kept: they go over core NATS on `noetl.cancel.<stream>` as the JSON
`{"command_ids": [...]}` to every bus of that stream connected at the time.

A subject root other than `noetl.commands` (with a stream of its own) lets several NoETL
installations, or test runs, share one NATS server: a subject may belong to one stream only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import nats.errors
import nats.js.errors
from nats.js.api import AckPolicy, ConsumerConfig, RetentionPolicy, StorageType, StreamConfig
from nats.js.client import JetStreamContext

from noetl.bus.port import Pointer
from noetl.errors import BusError

SUBJECT_ROOT = "noetl.commands"
CONSUMER_PREFIX = "noetl-worker-"
TOKEN = re.compile(r"^[A-Za-z0-9_-]+$")  # what a pool or stream name may be
ROOT = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")  # what a subject root may be
ACK_TIMEOUT = 5.0  # seconds to wait for JetStream's acks of one round of publishes

# Errors that mean "the server is away for now": retried (publish) or waited out (fetch).
TRANSIENT = (
    nats.errors.TimeoutError,
    nats.errors.NoRespondersError,
    nats.errors.ConnectionReconnectingError,
    nats.errors.OutboundBufferLimitError,
    nats.errors.StaleConnectionError,
    nats.js.errors.NoStreamResponseError,
    nats.js.errors.ServiceUnavailableError,
)

_STREAM_KEYS = ("subjects", "retention", "storage")
_CONSUMER_KEYS = ("filter_subject", "ack_policy", "deliver_subject")


def pool_subject(pool: str, root: str = SUBJECT_ROOT) -> str:
    """`noetl.commands.<pool>`; BusError when `pool` cannot be one subject token."""
    if not TOKEN.match(pool):
        raise BusError(
            f"pool name {pool!r} cannot be used on NATS: use letters, digits, '-' and '_' only"
        )
    return f"{root}.{pool}"


def encode(pointer: Pointer) -> bytes:
    """The message body of a pointer (its pool is the subject)."""
    body = {
        "execution_id": pointer.execution_id,
        "command_id": pointer.command_id,
        "step": pointer.step,
    }
    return json.dumps(body, separators=(",", ":")).encode()


def decode(data: bytes, subject: str) -> Pointer:
    """The pointer of a message on `noetl.commands.<pool>`."""
    try:
        body = json.loads(data)
        return Pointer(
            execution_id=str(body["execution_id"]),
            command_id=str(body["command_id"]),
            step=str(body["step"]),
            pool=subject.rsplit(".", 1)[-1],
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise BusError(f"malformed command pointer on {subject}: {exc!r}") from None


def cancel_subject(stream: str) -> str:
    """Where the buses of `stream` hear cancel notices."""
    return f"noetl.cancel.{stream}"


def encode_cancel(command_ids: Sequence[str]) -> bytes:
    """The message body of a cancel notice."""
    return json.dumps({"command_ids": list(command_ids)}, separators=(",", ":")).encode()


def decode_cancel(data: bytes, subject: str) -> tuple[str, ...]:
    """The command ids of a cancel notice."""
    try:
        ids = json.loads(data)["command_ids"]
        if not isinstance(ids, list):
            raise TypeError(f"command_ids is a {type(ids).__name__}, not a list")
        return tuple(str(command_id) for command_id in ids)
    except (ValueError, KeyError, TypeError) as exc:
        raise BusError(f"malformed cancel notice on {subject}: {exc!r}") from None


def failure(where: str, doing: str, exc: BaseException) -> BusError:
    """A BusError saying what failed on which server (a BusError is passed through)."""
    if isinstance(exc, BusError):
        return exc
    reason = str(exc).strip() or type(exc).__name__
    return BusError(f"NATS {where}: {doing} failed: {reason}")


async def ensure_stream(
    js: JetStreamContext, stream: str, where: str, root: str = SUBJECT_ROOT
) -> None:
    """Create the stream on `<root>.>`, or check that the existing one is what NoETL needs."""
    wanted = StreamConfig(
        name=stream,
        subjects=[f"{root}.>"],
        retention=RetentionPolicy.WORK_QUEUE,
        storage=StorageType.FILE,
    )
    try:
        info = await js.stream_info(stream)
    except nats.js.errors.NotFoundError:
        try:
            await js.add_stream(wanted)
        except nats.errors.Error as exc:
            raise failure(where, f"creating JetStream stream {stream}", exc) from None
        return
    except nats.errors.Error as exc:
        raise failure(where, f"looking up JetStream stream {stream}", exc) from None
    _refuse_mismatch(f"JetStream stream {stream}", where, info.config, wanted, _STREAM_KEYS)


async def ensure_consumer(
    js: JetStreamContext,
    stream: str,
    pool: str,
    *,
    ack_wait: float,
    max_deliver: int,
    where: str,
    root: str = SUBJECT_ROOT,
) -> str:
    """Create the pool's consumer, or check it and update its `ack_wait`/`max_deliver`; its
    name. Errors of an unreachable server are left to the caller (a fetch waits them out)."""
    name = CONSUMER_PREFIX + pool
    wanted = ConsumerConfig(
        durable_name=name,
        filter_subject=pool_subject(pool, root),
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=ack_wait,
        max_deliver=max_deliver,
    )
    what = f"JetStream consumer {name} of stream {stream}"
    try:
        info = await js.consumer_info(stream, name)
    except nats.js.errors.NotFoundError:
        pass
    else:
        _refuse_mismatch(what, where, info.config, wanted, _CONSUMER_KEYS)
    try:
        await js.add_consumer(stream, config=wanted)
    except nats.js.errors.BadRequestError as exc:
        raise failure(where, f"creating or updating {what}", exc) from None
    return name


def _refuse_mismatch(what: str, where: str, have: Any, wanted: Any, keys: Sequence[str]) -> None:
    """BusError naming the first setting where the server's object differs from ours."""
    for key in keys:
        found, expected = _plain(getattr(have, key, None)), _plain(getattr(wanted, key, None))
        if found != expected:
            raise BusError(
                f"{what} on NATS {where} exists with {key}={found!r}, but NoETL needs "
                f"{key}={expected!r}; delete it or point NoETL at another stream"
            )


def _plain(value: Any) -> Any:
    if isinstance(value, list):
        return sorted(_plain(v) for v in value)
    return getattr(value, "value", value)  # enums compare by their wire value
