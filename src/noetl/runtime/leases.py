"""Who holds the commands of the executions a control plane runs, and for how long.

A worker holds a command either by claiming a bus delivery of it (`Leases.claim_many`: the
winners written to the log as `command.claimed` and recorded in the store, so control planes
sharing it agree on one winner per attempt) or by taking it with the answer to its report (a
hand-off, `Leases.hold_handed`). Either way it holds it on a lease of `lease` seconds that only
its claim token renews. A lease that runs out puts the command on the bus again, its claim in
the store forgotten so the new delivery can win there; the claims of executions that ended are
deleted together a moment later. The rules of who may claim and report are `claims.py`'s; this
module keeps the leases and timers they lead to.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import replace
from typing import Any

from noetl.bus.port import MAX_DELIVER, Pointer
from noetl.engine.commands import Command, claimed_event, dead_event, expired_event
from noetl.engine.events import Event
from noetl.errors import StoreError
from noetl.runtime.claims import check_renewal, holds, new_token, refusal
from noetl.runtime.live import HANDED_OFF, LiveExecution
from noetl.runtime.publisher import Publisher
from noetl.runtime.pump import Pump
from noetl.store.port import EventStore
from noetl.worker.source import WorkItem

log = logging.getLogger(__name__)
LEASE = 30.0  # seconds a handed-off command stays with its worker without a report or renewal
BACKGROUND_WAIT = 5.0  # seconds `close` waits for claims still being forgotten
FORGET_DELAY = 1.0  # seconds the claims of ended executions wait, to be deleted together
# Seconds of lapsed leases summed up in one warning line (each lapse is its own debug line): a
# server losing a worker under load would otherwise write a warning per command it held.
LAPSE_SUMMARY = 1.0
LAPSES_NAMED = 5  # commands a summary names; the others are counted

Load = Callable[[str], Awaitable[LiveExecution | None]]
Write = Callable[[Sequence[Event]], Awaitable[list[WorkItem]]]
Chosen = tuple[int, LiveExecution, Command, int, str]  # index, execution, command, attempt, token


class Leases:
    """The claims and leases of the commands of the running executions `lives` (the control
    plane's: it loads them with `load`, writes claims with `write` through `pump`)."""

    def __init__(
        self,
        store: EventStore,
        lives: Mapping[str, LiveExecution],
        pump: Pump,
        publisher: Publisher,
        *,
        load: Load,
        write: Write,
        pointer: Callable[[Command], Pointer],
        lease: float = LEASE,
        worker_id: str = "local",
    ) -> None:
        self.store = store
        self.lease = lease
        self.worker_id = worker_id  # names this process's own workers in their claims
        self._live = lives
        self._pump = pump
        self._publisher = publisher
        self._load = load
        self._write = write
        self._pointer = pointer
        self._background: set[asyncio.Task[None]] = set()  # lapsed commands' claims forgotten
        self._ended: list[str] = []  # executions whose claims are to be deleted
        self._forgetter: asyncio.Task[None] | None = None
        self._lapses = LapseSummary()

    async def close(self) -> None:
        """Delete the claims of the executions that just ended, now; give what is still being
        forgotten a moment (a store that blinks does not hold the close up for long)."""
        self._lapses.flush()
        if self._forgetter is not None:
            self._forgetter.cancel()
            self._in_background(self._forget_ended(0))
        if self._background:
            _, late = await asyncio.wait(list(self._background), timeout=BACKGROUND_WAIT)
            for task in late:
                task.cancel()

    def ended(self, execution_id: str) -> None:
        """An execution ended: its claims decide nothing any more (every claim of an ended
        execution is refused), so they are deleted, with those of others ending about now."""
        self._ended.append(execution_id)
        if self._forgetter is None or self._forgetter.done():
            self._forgetter = asyncio.get_running_loop().create_task(self._forget_ended())

    async def renew(self, held: Sequence[tuple[str, str, str]]) -> None:
        """Extend the leases of held commands, given as (execution id, command id, claim token).
        Raises `NotHeldError` naming the first one that token does not hold, and then extends
        none: only the holder keeps a command from the others."""
        lives = await self.check_holding(held)
        for execution_id, command_id, _ in held:
            live = lives[execution_id]
            # Only the lease this process gave out: a replica that did not hand the command
            # out starts none (it would run out there and put the command on the bus).
            if live is not None and command_id in live.leases:
                live.lease(live.state.pending[command_id], self.lease, self._lapse)

    async def check_holding(
        self, held: Sequence[tuple[str, str, str]]
    ) -> dict[str, LiveExecution | None]:
        """Raise `NotHeldError` naming `held[i]` unless each (execution id, command id, claim
        token) names a pending command that token holds; the executions, by id."""
        lives = {e: await self._load(e) for e, _, _ in held}
        check_renewal(held, lives)
        return lives

    async def claim_many(
        self, wanted: Sequence[tuple[Pointer, int]], worker_id: str | None = None
    ) -> list[WorkItem | None]:
        """Per (pointer, delivery attempt): its command for `worker_id` (by default this
        process's own workers), or None when it is finished, unknown or running elsewhere (and
        for a repeat within `wanted`).

        A later delivery `attempt` wins over an earlier claim: the bus only redelivers once the
        earlier holder's lease ran out, so that worker is gone or too late. The winners are
        recorded in the log first (one write for all: `command.claimed` with a fresh claim
        token, which only its reports may carry), so a claim that fails half-way can be asked
        for again. A store that is broken (not a blink, not a conflict) ends the waits here.
        """
        try:
            return await self._claim_many(wanted, worker_id or self.worker_id)
        except StoreError as exc:
            if type(exc) is StoreError:
                self._store_broken(exc)
            raise

    async def _claim_many(
        self, wanted: Sequence[tuple[Pointer, int]], worker_id: str
    ) -> list[WorkItem | None]:
        chosen: list[Chosen] = []
        try:
            for index, (pointer, attempt) in enumerate(wanted):
                found = await self._claimable(pointer, attempt)
                if found is not None:
                    # Taken before the next await: another delivery of the same command (a
                    # redelivery and a lapsed lease's re-issue come together) is refused while
                    # this claim is decided, or each would void the other's.
                    found[0].claiming.add(pointer.command_id)
                    chosen.append((index, *found, attempt, new_token()))
            return await self._record_claims(chosen, len(wanted), worker_id)
        finally:
            for _, live, command, *_ in chosen:
                live.claiming.discard(command.command_id)

    def hold_handed(
        self, live: LiveExecution, command: Command, token: str, worker_id: str
    ) -> WorkItem:
        """Hold a command handed to the reporter `worker_id`, on a lease."""
        item = live.hold(command, HANDED_OFF, self._expire, token, self.lease, worker_id)
        live.lease(command, self.lease, self._lapse)
        return item

    async def _record_claims(
        self, chosen: list[Chosen], size: int, worker_id: str
    ) -> list[WorkItem | None]:
        """Write the chosen claims to the log and the store; the winners held, on a lease."""
        answers: list[WorkItem | None] = [None] * size
        if not chosen:
            return answers
        await self._write([claimed_event(c, worker_id, token) for *_, c, _, token in chosen])
        # Recorded in the store (one write for all), so control planes sharing it agree on one
        # winner per attempt.
        won = await self.store.claim(
            [(c.execution_id, c.command_id, attempt) for _, _, c, attempt, _ in chosen]
        )
        for (index, live, command, attempt, token), winner in zip(chosen, won, strict=True):
            # A claim recorded meanwhile (another replica's) replaces this one.
            if winner and holds(live.state.holders.get(command.command_id, ""), token):
                answers[index] = live.hold(
                    command, attempt, self._expire, token, worker_id=worker_id
                )
                live.lease(command, self.lease, self._lapse)
        return answers

    async def _claimable(
        self, pointer: Pointer, attempt: int
    ) -> tuple[LiveExecution, Command] | None:
        """The execution and pending command `pointer` names, unless `claims.refusal` says
        this delivery `attempt` may not claim it now."""
        live = self._live.get(pointer.execution_id) or await self._load(pointer.execution_id)
        if live is None:
            return None
        command = live.state.pending.get(pointer.command_id)
        if command is None and self._live.get(pointer.execution_id) is live:
            # Another control plane sharing the log (a replica) may have issued it since this
            # state was built: look again in the state the log gives now.
            await self._pump.reload(pointer.execution_id)
            command = live.state.pending.get(pointer.command_id)
        if command is None:
            return None
        refused = refusal(live, command.command_id, attempt, self.lease, time.time())
        if refused is not None:
            log.info("claim of command %s refused: %s", command.command_id, refused)
            return None
        return live, command

    def _store_broken(self, exc: StoreError) -> None:
        """The store fails on the workers' path in a way retrying does not mend (a corrupt
        file): whoever waits for an execution here is told, rather than waiting forever."""
        for live in self._live.values():
            if not live.done.done():
                live.done.set_exception(StoreError(f"the store could not be written: {exc}"))

    def _lapse(self, command: Command) -> None:
        """A held command's worker neither reported nor renewed in time: the command goes on
        the bus again, claimable by anyone (its claim in the store is forgotten, so the new
        delivery's first attempt can win there too). The `MAX_DELIVER`th time, the command is
        dead instead: its step fails with error kind `delivery`."""
        live = self._live.get(command.execution_id)
        if live is None or live.leases.pop(command.command_id, None) is None:
            return
        worker = live.workers.get(command.command_id) or "?"
        live.release(command.command_id)
        lapses = live.lapses[command.command_id] = live.lapses.get(command.command_id, 0) + 1
        if lapses >= MAX_DELIVER:
            # Each re-issue is a new bus message, so the bus's own delivery count never gets
            # there: a command whose worker is lost (or whose report is refused) every time
            # would go round for ever. It is dead, as a poison pointer is on the bus.
            log.warning(
                "lease of command %s (step '%s', worker %s) ran out %d times; the command is dead",
                command.command_id,
                command.step,
                worker,
                lapses,
            )
            self._pump.put([dead_event(command.execution_id, command.step, command.command_id)])
            return
        self._lapses.add(f"{command.command_id} (step '{command.step}', worker {worker})")
        self._in_background(self._deliver_again(command))

    async def _deliver_again(self, command: Command) -> None:
        await self._forget_claims(command.execution_id, command.command_id)
        # A new message, not a duplicate of the command's first one (NATS would drop that).
        reissued = replace(self._pointer(command), reissue=time.time_ns())
        self._publisher.send([reissued], [])

    async def _forget_claims(self, execution_id: str, command_id: str) -> None:
        """Delete the claim row of a command whose lease ran out."""
        try:
            await self.store.release_claims(execution_id, command_id)
        except StoreError as exc:  # the bus's own redelivery of it can still win
            log.warning("could not forget the claim of command %s: %s", command_id, exc)

    async def _forget_ended(self, delay: float = FORGET_DELAY) -> None:
        """Delete the claims of the executions that ended, those of a busy moment in one
        statement (a write per execution would cost as much as a step)."""
        await asyncio.sleep(delay)
        ended, self._ended = self._ended, []
        if not ended:
            return
        try:
            await self.store.forget_claims(ended)
        except StoreError as exc:  # `noetl prune` deletes them with their executions
            log.warning("could not delete the claims of %d ended executions: %s", len(ended), exc)

    def _in_background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _expire(self, command: Command) -> None:
        self._pump.put([expired_event(command)])


class LapseSummary:
    """The leases that ran out within `LAPSE_SUMMARY` seconds, logged as one warning line
    naming the first `LAPSES_NAMED` commands (and their workers) and counting the rest; each
    lapse is also a debug line of its own, as it happens."""

    def __init__(self) -> None:
        self._lapsed: list[str] = []  # "command (step 's', worker w)"
        self._timer: asyncio.TimerHandle | None = None

    def add(self, which: str) -> None:
        """A lease ran out: `which` names the command, its step and its worker."""
        log.debug("lease of command %s ran out on its worker; delivering it again", which)
        self._lapsed.append(which)
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(LAPSE_SUMMARY, self.flush)

    def flush(self) -> None:
        """Log the summary of the lapses so far, now (the control plane closes)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        lapsed, self._lapsed = self._lapsed, []
        if len(lapsed) == 1:
            log.warning("lease of command %s ran out on its worker; delivering it again", *lapsed)
        elif lapsed:
            named = ", ".join(lapsed[:LAPSES_NAMED])
            rest = len(lapsed) - LAPSES_NAMED
            more = f" and {rest} more (each logged at debug level)" if rest > 0 else ""
            log.warning(
                "leases of %d commands ran out on their workers; delivering them again: %s%s",
                len(lapsed),
                named,
                more,
            )
