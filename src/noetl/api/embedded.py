"""Running playbooks in this process from Python: `noetl.run`, `noetl.run_async` and
`noetl.Embedded`, a runtime kept open for many runs (the SQLite event log, in-process workers:
what `noetl run` does)."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from noetl.api.outcome import Outcome
from noetl.api.playbooks import Playbook, PlaybookSource, Target, as_playbook, is_text
from noetl.api.sync import run_sync
from noetl.config import Settings
from noetl.dsl.locate import load_located, locate
from noetl.errors import ConfigError
from noetl.runtime.assemble import open_embedded
from noetl.runtime.assembled import Runtime
from noetl.runtime.retry import prepare_retry
from noetl.tools.masking import masked_output


class Embedded:
    """A NoETL running in this process: an event log in the SQLite file `db` (default
    `.noetl/noetl.db`, or NOETL_DB), `workers` concurrent in-process workers.

    Use it as `async with noetl.Embedded(db=...) as runtime:`; `await runtime.run(...)` as many
    times as wanted, concurrently too. While it is open, what tasks print is masked for the
    secrets they use, like `noetl run`'s output.
    """

    def __init__(self, db: str | Path | None = None, *, workers: int | None = None) -> None:
        self.settings = Settings.load(db=db, workers=workers)
        self._runtime: Runtime | None = None
        self._opened = contextlib.AsyncExitStack()

    async def __aenter__(self) -> Embedded:
        await self.open()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def open(self) -> None:
        """Open the event log and start the workers (what `async with` does)."""
        if self._runtime is not None:
            return
        runtime = await open_embedded(self.settings)
        self._opened.push_async_callback(runtime.close)
        self._opened.enter_context(masked_output(runtime.resources.masks))
        self._runtime = runtime

    async def close(self) -> None:
        """Stop the workers and close the log; running executions stop where they are (a later
        runtime on the same `db` can resume them). Idempotent."""
        self._runtime = None
        await self._opened.aclose()

    async def start(
        self,
        playbook: Target,
        payload: Mapping[str, Any] | None = None,
        *,
        version: int | None = None,
    ) -> str:
        """Start an execution; its id. `playbook`: a `Playbook`, a file, YAML text, or a path
        (and `version`) in this runtime's catalog. `payload` is deep-merged into the workload."""
        runtime = self._open()
        if isinstance(playbook, Playbook) or is_text(playbook):
            loaded = as_playbook(playbook)
        else:  # the one rule of `noetl run`: a file, else a catalog path
            definition, source = await load_located(locate(str(playbook), version), runtime.catalog)
            loaded = Playbook(definition, source)
        return await runtime.control.start(loaded.definition, payload, source=loaded.source)

    async def retry(
        self,
        execution_id: str,
        *,
        from_step: str | None = None,
        playbook: Playbook | PlaybookSource | None = None,
        payload: Mapping[str, Any] | None = None,
    ) -> str:
        """Retry a failed execution of this runtime's log: the id of the new execution, which
        reuses the steps the failed one finished and runs from the failed step (or `from_step`),
        on `playbook` (a newer version) or the same one (see docs/operations.md)."""
        runtime = self._open()
        job = await prepare_retry(
            runtime.store,
            execution_id,
            from_step=from_step,
            source=None if playbook is None else as_playbook(playbook).source,
            overrides=payload,
        )
        return await runtime.control.start(
            job.playbook, job.payload, source=job.source, retry=job.retry
        )

    async def wait(self, execution_id: str) -> Outcome:
        """Wait for the end of an execution of this runtime; how it ended."""
        return Outcome.of(await self._open().control.wait(execution_id))

    async def run(
        self,
        playbook: Target,
        payload: Mapping[str, Any] | None = None,
        *,
        version: int | None = None,
    ) -> Outcome:
        """Start an execution and wait for its end (see `start`)."""
        return await self.wait(await self.start(playbook, payload, version=version))

    async def cancel(self, execution_id: str, reason: str = "cancelled by request") -> None:
        """Ask a running execution to stop; `wait` then answers `cancelled`."""
        await self._open().control.cancel(execution_id, reason)

    def _open(self) -> Runtime:
        if self._runtime is None:
            raise ConfigError("this noetl.Embedded is not open: use `async with` or `open()`")
        return self._runtime


async def run_async(
    playbook: Target,
    payload: Mapping[str, Any] | None = None,
    *,
    db: str | Path | None = None,
    version: int | None = None,
    workers: int | None = None,
) -> Outcome:
    """Run one playbook to its end in this process (see `Embedded`); how it ended."""
    async with Embedded(db, workers=workers) as runtime:
        return await runtime.run(playbook, payload, version=version)


def run(
    playbook: Target,
    payload: Mapping[str, Any] | None = None,
    *,
    db: str | Path | None = None,
    version: int | None = None,
    workers: int | None = None,
) -> Outcome:
    """`run_async` for synchronous code (a script, or a notebook cell)."""
    return run_sync(run_async(playbook, payload, db=db, version=version, workers=workers))
