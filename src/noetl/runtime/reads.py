"""The control plane's reads of stored results: loaded before the engine decides.

The engine renders `loop.in`, guards, arc args and `set_ctx` without I/O, so a step result stored
by reference must be in `ExecutionState.loaded` before the event that brings it is decided. Only
the results the playbook's control-plane templates name are loaded (`engine.references.wanted`),
at most `limit` bytes per execution; past it the engine fails the template that reads one, naming
the step and field. A rebuilt execution loads the references of its whole log, in log order, so
the same ones fit and replay decides what the live run decided.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Mapping, Sequence
from typing import Any

from noetl.engine.definition import PlaybookDef
from noetl.engine.events import Event
from noetl.engine.references import Loaded, Unreadable, ref_key, ref_size, wanted
from noetl.engine.replay import Replayer
from noetl.engine.state import ExecutionState
from noetl.errors import NotFoundError, StoreError, StoreUnavailableError
from noetl.store.results import ResultStore


class ControlReads:
    """Loads the stored results an execution's control-plane templates read."""

    def __init__(self, results: ResultStore | None, limit: int) -> None:
        self.results = results
        self.limit = limit if results is not None else 0

    def new_state(self) -> ExecutionState:
        """An empty state whose loads are bounded by this reader's limit."""
        return ExecutionState(loaded=Loaded(self.limit))

    async def before(self, playbook: PlaybookDef, state: ExecutionState, event: Event) -> None:
        """Load what `event` brings for the control plane, unless the event is a duplicate."""
        if event.key not in state.seen:
            refs = wanted(playbook, event)
            if refs:  # most events bring none: no read to start
                await self._load(state.loaded, refs)

    async def replay(
        self, playbook: PlaybookDef, pages: AsyncIterable[Sequence[Event]]
    ) -> ExecutionState:
        """The state a log (read in pages) gives, with the stored results it brings loaded as
        they were live."""
        loaded = Loaded(self.limit)
        replayer = Replayer(playbook, loaded)
        async for page in pages:
            for event in page:
                await self._load(loaded, wanted(playbook, event))
            replayer.feed(page)
        return replayer.finish()

    async def _load(self, loaded: Loaded, refs: Sequence[Mapping[str, Any]]) -> None:
        for ref in loaded.missing(refs):
            if not loaded.admit(ref):
                continue
            assert self.results is not None  # a limit above 0 comes with a store
            try:
                loaded.put(ref, await self.results.get(ref))
            except (NotFoundError, StoreError) as exc:
                if isinstance(exc, StoreUnavailableError):
                    raise  # a blink: the batch is decided again once the store is back
                # Gone (pruned) or corrupt: the templates reading it fail, saying so.
                reason = f"reading it back failed: {exc}"
                loaded.values[ref_key(ref)] = Unreadable(ref_size(ref), reason)
