"""How many commands a worker pool runs at once: `concurrency` slots, some of them lent.

A handler takes a slot for each delivery it fetches and frees it when it is done. A task that
only waits for other work needing a slot (a `playbook` task waiting for its child execution)
lends its slot meanwhile (`noetl.tools.base.slot_lent`): the slot counts as free, so the pool
fetches the child's commands even when every slot is held by a waiting parent. When the wait
ends the task takes a slot back before the pool takes any new work, so real work never runs on
more slots than the pool has, and parents that resume finish before more work starts. Two
exceptions, both transient: a fetch already under way when a task takes its slot back still
brings its deliveries (at most one fetch batch over), and a wait that is cancelled (its
execution ended, or its task timed out) takes its slot back at once, as it cannot wait then.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class SlotLimit:
    """`size` slots: `busy` in use, lent slots free again until their tasks take them back."""

    def __init__(self, size: int) -> None:
        self.size = max(1, size)
        self.busy = 0
        self._returning = 0  # tasks whose wait ended, waiting to take a slot back
        self._changed = asyncio.Event()

    def free(self) -> int:
        """Slots new work may take now: tasks taking theirs back go first."""
        return self.size - self.busy - self._returning

    def take(self) -> Slot:
        """A slot for a fetched delivery (the fetch asked for at most `free()` of them)."""
        self.busy += 1
        return Slot(self)

    async def wait_free(self) -> None:
        """Until new work may take a slot."""
        while self.free() <= 0:
            self._changed.clear()
            await self._changed.wait()

    def release(self) -> None:
        """A slot is freed (its handler is done, or its task lends it)."""
        self.busy -= 1
        self._changed.set()

    def occupy(self) -> None:
        """A lent slot is taken back."""
        self.busy += 1

    async def wait_to_return(self) -> None:
        """Until a slot is free for a task whose wait ended; it goes before new work."""
        self._returning += 1
        try:
            while self.busy >= self.size:
                self._changed.clear()
                await self._changed.wait()
        finally:
            self._returning -= 1


class Slot:
    """One handler's slot: held while its command runs, lent while its task only waits."""

    def __init__(self, limit: SlotLimit) -> None:
        self._limit = limit
        self.held = True

    def free(self) -> None:
        """The handler is done: free the slot (unless it is lent out and never came back)."""
        if self.held:
            self.held = False
            self._limit.release()

    @asynccontextmanager
    async def lent(self) -> AsyncIterator[None]:
        """Free within the block; taken back after it (see the module docstring)."""
        if not self.held:  # lent already (a nested wait): nothing more to lend
            yield
            return
        self.free()
        try:
            yield
        except asyncio.CancelledError:
            self._take_back_now()
            raise
        except BaseException:
            await self._take_back()
            raise
        await self._take_back()

    async def _take_back(self) -> None:
        try:
            await self._limit.wait_to_return()
        except asyncio.CancelledError:
            self._take_back_now()
            raise
        self._take_back_now()

    def _take_back_now(self) -> None:
        """A cancelled task cannot wait: it takes its slot at once (it is ending, or its
        timeout turns into an error it handles on the slot)."""
        self._limit.occupy()
        self.held = True
