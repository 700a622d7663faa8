"""Wakes Server-Sent Event streams when events land in the log.

The control plane calls `Feed.observe` with every event it writes (a listener, on the server's
event loop), so a stream waits on an `asyncio.Event` instead of polling the store. Streams still
read what they send from the store: the feed only says *when* to look. Events another replica
wrote are not observed here; streams also look every `KEEPALIVE` seconds, which catches them up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from noetl.engine import events as ev
from noetl.engine.events import Event

KEEPALIVE = 15.0  # seconds between looks (and SSE comments) when nothing was observed

# What changes a row of the executions list: start, end and step counts.
_LIST_TYPES = frozenset(
    {ev.PLAYBOOK_STARTED, ev.STEP_DONE, ev.STEP_FAILED, ev.STEP_SKIPPED, ev.LOOP_DONE}
    | ev.TERMINAL_PLAYBOOK
)


@dataclass(eq=False)
class ListWatch:
    """One executions-list stream: the executions that changed since it last looked."""

    wake: asyncio.Event = field(default_factory=asyncio.Event)
    changed: set[str] = field(default_factory=set)

    def take(self) -> set[str]:
        """The changed execution ids, forgetting them."""
        self.wake.clear()
        taken, self.changed = self.changed, set()
        return taken


class Feed:
    """Who is watching what; `observe` wakes them."""

    def __init__(self) -> None:
        self._executions: dict[str, set[asyncio.Event]] = {}
        self._lists: set[ListWatch] = set()
        self.closed = False

    def close(self) -> None:
        """The server is stopping: wake every stream so that it ends (clients reconnect to
        whichever server comes up), instead of holding the shutdown open."""
        self.closed = True
        for watchers in self._executions.values():
            for wake in watchers:
                wake.set()
        for watch in self._lists:
            watch.wake.set()

    def observe(self, event: Event) -> None:
        """A control-plane listener: `event` is in the log."""
        for wake in self._executions.get(event.execution_id, ()):
            wake.set()
        if event.type in _LIST_TYPES:
            for watch in self._lists:
                watch.changed.add(event.execution_id)
                watch.wake.set()

    @contextmanager
    def watch_execution(self, execution_id: str) -> Iterator[asyncio.Event]:
        """An event set whenever `execution_id` gets events, while the block runs."""
        wake = asyncio.Event()
        self._executions.setdefault(execution_id, set()).add(wake)
        try:
            yield wake
        finally:
            watchers = self._executions.get(execution_id, set())
            watchers.discard(wake)
            if not watchers:
                self._executions.pop(execution_id, None)

    @contextmanager
    def watch_list(self) -> Iterator[ListWatch]:
        """A `ListWatch` fed while the block runs."""
        watch = ListWatch()
        self._lists.add(watch)
        try:
            yield watch
        finally:
            self._lists.discard(watch)
