"""Who may report on a command: the holder of its claim.

A claim (a bus delivery claimed through the server, or a command handed back with a report) is
written to the log as `command.claimed` with the digest of a fresh random token, and the token
itself goes only to the worker, with the command (the log is readable by more than workers, and
the token is a bearer secret). Reports echo it; the control plane accepts a worker's events only
for a command that is pending and whose latest claim's digest is the digest of that token.

The server's state decides who may claim: a command held by a worker is leased to it (`ack_wait`
seconds, renewed only with its claim token), and nobody else may claim it until that lease runs
out here, whatever delivery attempt they name; an attempt no later than the last claimed one is
refused, and so is an attempt the bus cannot have delivered yet (it redelivers a pointer only
after a lease ran out, so attempt n exists no sooner than (n-1) leases after the command was
issued). A refused claim changes nothing.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable, Mapping, Sequence

from noetl.engine.commands import Command, claim_digest, claimed_event
from noetl.engine.events import WORKER_EVENT_TYPES, Event
from noetl.engine.state import evolve
from noetl.errors import NotHeldError
from noetl.runtime.live import DecidedBatch, LiveExecution
from noetl.worker.source import WorkItem

Hold = Callable[[LiveExecution, Command, str, str], WorkItem]

TOKEN_BYTES = 16


def new_token() -> str:
    """A fresh claim token (unguessable: it is what proves a worker holds a command)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def holds(holder: str, token: str) -> bool:
    """Whether `token` is the claim token whose digest `holder` is (the state's holder of a
    command; empty: nobody holds it), compared in constant time."""
    given = claim_digest(token)
    return bool(holder) and hmac.compare_digest(holder.encode(), given.encode())


def refusal(
    live: LiveExecution, command_id: str, attempt: int, lease: float, now: float
) -> str | None:
    """Why the pending command `command_id` may not be claimed for delivery `attempt` at epoch
    time `now` (None: it may)."""
    if command_id in live.claiming:
        return "another claim of it is being decided"
    if command_id in live.leases:
        return "it is held by a worker whose lease has not run out"
    if live.claimed.get(command_id, 0) >= attempt:
        return f"attempt {attempt} is not later than the attempt that claimed it"
    issued = live.issued.get(command_id)
    if issued is not None and attempt > 2 + (now - issued) // lease:
        # One attempt of slack: the clocks of replicas sharing the log may differ a little.
        return f"attempt {attempt} cannot have been delivered yet"
    return None


def check_renewal(
    held: Sequence[tuple[str, str, str]], lives: Mapping[str, LiveExecution | None]
) -> None:
    """Raise `NotHeldError` naming `held[i]` unless every (execution id, command id, claim
    token) names a pending command held by that token."""
    for index, (execution_id, command_id, token) in enumerate(held):
        live = lives.get(execution_id)
        holder = "" if live is None else live.state.holders.get(command_id, "")
        if not holds(holder, token):
            raise NotHeldError(
                f"held[{index}]: command {command_id} of execution {execution_id} is not held "
                "by this claim token (finished, unknown, taken over, or a wrong token)"
            )


def check_held(
    events: Sequence[Event],
    lives: Mapping[str, LiveExecution | None],
    tokens: Mapping[str, str],
) -> None:
    """Raise `NotHeldError` unless every event is a worker's event on a pending command whose
    claim token is the one given for it in `tokens`."""
    verified: set[tuple[str, str]] = set()  # a report's events share few commands: hash once
    for index, event in enumerate(events):
        where = f"events[{index}]"
        if event.type not in WORKER_EVENT_TYPES:
            raise NotHeldError(f"{where}.type: workers may not report {event.type!r}")
        live = lives.get(event.execution_id)
        command_id = event.command_id
        if live is None or command_id is None or command_id not in live.state.pending:
            raise NotHeldError(
                f"{where}: command {command_id} of execution {event.execution_id} is not "
                "running (finished, unknown, or never issued)"
            )
        if (event.execution_id, command_id) in verified:
            continue
        if not holds(live.state.holders.get(command_id, ""), tokens.get(command_id, "")):
            raise NotHeldError(
                f"{where}: command {command_id} is not held by this claim (its claim token is "
                "missing, old, or another worker's)"
            )
        verified.add((event.execution_id, command_id))


def plan_hand_off(
    batch: DecidedBatch, lives: Mapping[str, LiveExecution], route: Callable[[str], str]
) -> None:
    """Pick commands of each offer's executions (in its pool) for the reporting worker, and
    add their `command.claimed` to the batch: written with it, a hand-off costs no write of
    its own."""
    waiting: dict[str, list[Command]] = {}
    for command in batch.commands:
        waiting.setdefault(command.execution_id, []).append(command)
    for offer in batch.offers:
        taken = 0
        for execution_id in offer.executions:
            live = lives.get(execution_id)
            if live is None or live.state.terminal:
                continue
            for command in waiting.get(execution_id, []):
                if taken >= offer.take or command.command_id in batch.handed:
                    continue
                if route(command.pool) != offer.pool:
                    continue
                token = new_token()
                claimed = claimed_event(command, offer.worker_id, token)
                evolve(live.state, claimed)
                batch.events[execution_id].append(claimed)
                batch.handed[command.command_id] = (offer, token)
                taken += 1


def hand_off(batch: DecidedBatch, lives: Mapping[str, LiveExecution], hold: Hold) -> None:
    """Answer each offer of a written batch with the commands planned for it, each `hold`
    for its worker."""
    given: dict[int, list[WorkItem]] = {id(offer): [] for offer in batch.offers}
    for command in batch.commands:
        planned = batch.handed.get(command.command_id)
        live = lives.get(command.execution_id)
        if planned is not None and live is not None:
            offer, token = planned
            given[id(offer)].append(hold(live, command, token, offer.worker_id))
    for offer in batch.offers:
        if not offer.given.done():
            offer.given.set_result(given[id(offer)])
