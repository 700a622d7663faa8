"""A NoETL server from Python: `noetl.AsyncClient` (async) and `noetl.Client` (the same methods,
synchronous, for scripts and notebooks), built on `noetl.client.transport.ServerClient`.

Needs the `distributed` extra (aiohttp).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any

from noetl.api.outcome import Outcome
from noetl.api.playbooks import (
    Playbook,
    PlaybookSource,
    Target,
    as_playbook,
    is_text,
    load_playbook,
)
from noetl.api.sync import LoopThread
from noetl.client.event_log import RemoteEventLog
from noetl.client.results import RemoteResultStore
from noetl.client.transport import ServerClient
from noetl.config import Settings
from noetl.dsl.locate import locate
from noetl.runtime.step_results import step_result


class AsyncClient:
    """The API of the NoETL server at `url` (default NOETL_SERVER_URL), sending `token` (default
    NOETL_API_TOKEN) when the server requires one. Close it with `aclose` or `async with`."""

    def __init__(self, url: str | None = None, *, token: str | None = None) -> None:
        settings = Settings.load(server_url=url, api_token=token)
        self.url = settings.server_url
        self.transport = ServerClient(settings.server_url, token=settings.api_token)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def register(
        self, playbook: Playbook | PlaybookSource, *, path: str | None = None
    ) -> dict[str, Any]:
        """Register a playbook (a `Playbook`, a file or YAML text) in the server's catalog under
        `path` (default: its metadata.path, else its name). The entry: `path`, `version`,
        `name`, `sha256`, `created_at`, and `created` (False when the content was already the
        latest version)."""
        loaded = as_playbook(playbook)
        return await self.transport.register(loaded.source, path=path or loaded.path)

    async def start(
        self,
        playbook: Target,
        payload: Mapping[str, Any] | None = None,
        *,
        version: int | None = None,
    ) -> str:
        """Start an execution; its id. `playbook`: a `Playbook`, a file or YAML text (checked
        here, sent inline), or a catalog path (and `version`) on the server."""
        body: dict[str, Any] = {"payload": dict(payload or {})}
        if isinstance(playbook, Playbook) or is_text(playbook):
            return await self.transport.start(playbook=as_playbook(playbook).source, **body)
        located = locate(str(playbook), version)  # the one rule of `noetl execute`
        if located.file is not None:
            return await self.transport.start(playbook=load_playbook(located.file).source, **body)
        return await self.transport.start(path=located.target, version=version, **body)

    async def status(self, execution_id: str) -> Outcome:
        """Where an execution is now (`status` may be `running`)."""
        return Outcome.of(await self.transport.execution(execution_id))

    async def wait(self, execution_id: str) -> Outcome:
        """Wait for the end of an execution (the server holds the request; no busy polling)."""
        return Outcome.of(await self.transport.wait(execution_id))

    async def run(
        self,
        playbook: Target,
        payload: Mapping[str, Any] | None = None,
        *,
        version: int | None = None,
    ) -> Outcome:
        """Start an execution and wait for its end (see `start`)."""
        return await self.wait(await self.start(playbook, payload, version=version))

    async def cancel(self, execution_id: str) -> Outcome:
        """Ask a running execution to stop; where it is then."""
        return Outcome.of(await self.transport.cancel(execution_id))

    async def events(self, execution_id: str) -> list[dict[str, Any]]:
        """Every event of an execution, in order (as `noetl events --json` prints them)."""
        return await self.transport.events(execution_id)

    async def results(self, execution_id: str, step: str) -> Any:
        """The result of `step` (a loop's: its iteration results), fetched from the server's
        result store when it was too large to travel in the event."""
        store = RemoteResultStore(self.transport, patience=0)
        return await step_result(RemoteEventLog(self.transport), store, execution_id, step)

    async def retry(
        self,
        execution_id: str,
        *,
        from_step: str | None = None,
        version: int | None = None,
        playbook: Playbook | PlaybookSource | None = None,
        payload: Mapping[str, Any] | None = None,
    ) -> str:
        """Retry a failed execution (see docs/operations.md): the id of the new execution,
        which reuses the steps the failed one finished and runs from the failed step (or
        `from_step`), on catalog `version` or `playbook` (a newer version of it), with
        `payload` deep-merged over the failed execution's."""
        source = None if playbook is None else as_playbook(playbook).source
        return await self.transport.retry(
            execution_id,
            from_step=from_step,
            version=version,
            playbook=source,
            payload=dict(payload or {}),
        )

    async def add_schedule(self, name: str, path: str, **fields: Any) -> dict[str, Any]:
        """Run catalog playbook `path` on a schedule: `cron` (and `timezone`) or `every`
        (seconds), and optionally `payload`, `version`, `misfire`, `catch_up_limit`,
        `overlap`, `paused`. The schedule with its next fire times."""
        return await self.transport.add_schedule(name=name, path=path, **fields)

    async def schedules(self) -> list[dict[str, Any]]:
        """Every schedule with its next fire times."""
        return await self.transport.schedules()

    async def schedule(self, name: str) -> dict[str, Any]:
        """One schedule with its next fire times and its latest slots."""
        return await self.transport.schedule(name)

    async def pause_schedule(self, name: str, paused: bool = True) -> dict[str, Any]:
        """Pause a schedule (`paused=False` resumes it)."""
        return await self.transport.pause_schedule(name, paused)

    async def delete_schedule(self, name: str) -> None:
        """Remove a schedule and its slot records."""
        await self.transport.delete_schedule(name)

    async def add_hook(self, name: str, path: str, version: int | None = None) -> dict[str, Any]:
        """Make a webhook starting catalog playbook `path`; the answer's `secret` is shown
        only here."""
        return await self.transport.add_hook(name, path, version)

    async def hooks(self) -> list[dict[str, Any]]:
        """Every webhook (never their secrets)."""
        return await self.transport.hooks()

    async def delete_hook(self, name: str) -> None:
        """Remove a webhook."""
        await self.transport.delete_hook(name)

    async def prune(
        self, older_than: str, *, status: str = "all", dry_run: bool = False
    ) -> dict[str, Any]:
        """Remove (or count, `dry_run`) executions that ended longer ago than `older_than`
        (`30d`, `12h`), of `status` (`done`, `failed`, `cancelled` or `all`); the counts."""
        return await self.transport.prune(older_than, status=status, dry_run=dry_run)

    async def aclose(self) -> None:
        """Close the connections. Idempotent."""
        await self.transport.aclose()


class Client:
    """`AsyncClient`'s methods, synchronous: usable in a script or a notebook cell. Close it
    with `close` or `with`."""

    def __init__(self, url: str | None = None, *, token: str | None = None) -> None:
        self._async = AsyncClient(url, token=token)
        self._loop = LoopThread()
        self.url = self._async.url

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def register(
        self, playbook: Playbook | PlaybookSource, *, path: str | None = None
    ) -> dict[str, Any]:
        """See `AsyncClient.register`."""
        return self._loop.call(self._async.register(playbook, path=path))

    def start(
        self,
        playbook: Target,
        payload: Mapping[str, Any] | None = None,
        *,
        version: int | None = None,
    ) -> str:
        """See `AsyncClient.start`."""
        return self._loop.call(self._async.start(playbook, payload, version=version))

    def status(self, execution_id: str) -> Outcome:
        """See `AsyncClient.status`."""
        return self._loop.call(self._async.status(execution_id))

    def wait(self, execution_id: str) -> Outcome:
        """See `AsyncClient.wait`."""
        return self._loop.call(self._async.wait(execution_id))

    def run(
        self,
        playbook: Target,
        payload: Mapping[str, Any] | None = None,
        *,
        version: int | None = None,
    ) -> Outcome:
        """See `AsyncClient.run`."""
        return self._loop.call(self._async.run(playbook, payload, version=version))

    def cancel(self, execution_id: str) -> Outcome:
        """See `AsyncClient.cancel`."""
        return self._loop.call(self._async.cancel(execution_id))

    def events(self, execution_id: str) -> list[dict[str, Any]]:
        """See `AsyncClient.events`."""
        return self._loop.call(self._async.events(execution_id))

    def results(self, execution_id: str, step: str) -> Any:
        """See `AsyncClient.results`."""
        return self._loop.call(self._async.results(execution_id, step))

    def retry(
        self,
        execution_id: str,
        *,
        from_step: str | None = None,
        version: int | None = None,
        playbook: Playbook | PlaybookSource | None = None,
        payload: Mapping[str, Any] | None = None,
    ) -> str:
        """See `AsyncClient.retry`."""
        retrying = self._async.retry(
            execution_id, from_step=from_step, version=version, playbook=playbook, payload=payload
        )
        return self._loop.call(retrying)

    def add_schedule(self, name: str, path: str, **fields: Any) -> dict[str, Any]:
        """See `AsyncClient.add_schedule`."""
        return self._loop.call(self._async.add_schedule(name, path, **fields))

    def schedules(self) -> list[dict[str, Any]]:
        """See `AsyncClient.schedules`."""
        return self._loop.call(self._async.schedules())

    def schedule(self, name: str) -> dict[str, Any]:
        """See `AsyncClient.schedule`."""
        return self._loop.call(self._async.schedule(name))

    def pause_schedule(self, name: str, paused: bool = True) -> dict[str, Any]:
        """See `AsyncClient.pause_schedule`."""
        return self._loop.call(self._async.pause_schedule(name, paused))

    def delete_schedule(self, name: str) -> None:
        """See `AsyncClient.delete_schedule`."""
        self._loop.call(self._async.delete_schedule(name))

    def add_hook(self, name: str, path: str, version: int | None = None) -> dict[str, Any]:
        """See `AsyncClient.add_hook`."""
        return self._loop.call(self._async.add_hook(name, path, version))

    def hooks(self) -> list[dict[str, Any]]:
        """See `AsyncClient.hooks`."""
        return self._loop.call(self._async.hooks())

    def delete_hook(self, name: str) -> None:
        """See `AsyncClient.delete_hook`."""
        self._loop.call(self._async.delete_hook(name))

    def prune(
        self, older_than: str, *, status: str = "all", dry_run: bool = False
    ) -> dict[str, Any]:
        """See `AsyncClient.prune`."""
        return self._loop.call(self._async.prune(older_than, status=status, dry_run=dry_run))

    def close(self) -> None:
        """Close the connections and the client's event loop. Idempotent."""
        if not self._loop.loop.is_closed():
            self._loop.call(self._async.aclose())
        self._loop.close()
