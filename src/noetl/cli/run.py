"""`noetl run`: run a playbook in this process (embedded mode) and report how it ended."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from noetl.cli.options import (
    DbOption,
    LogFormatOption,
    LogLevelOption,
    OutcomeJsonOption,
    PayloadOption,
    SetOption,
    WorkersOption,
    setup_logging,
)
from noetl.cli.terminal import (
    EXIT_INVALID,
    exit_code,
    exits_on_error,
    merged_payload,
    report_outcome,
)
from noetl.config import Settings, otlp_endpoint
from noetl.dsl.locate import Located, load_located, locate
from noetl.engine.definition import PlaybookDef
from noetl.errors import ConfigError, ConflictError, NoetlError, NotFoundError, PlaybookError
from noetl.observe import tracing
from noetl.runtime.assemble import open_embedded, open_stores
from noetl.runtime.assembled import Runtime
from noetl.store.port import ExecutionSummary
from noetl.store.sqlite.lease import execution_lease
from noetl.tools.masking import masked_output

if TYPE_CHECKING:
    from noetl.cli.progress import ProgressView


def run(
    file: Annotated[
        str | None,
        typer.Argument(help="Playbook file or catalog path to run (omit with --resume)."),
    ] = None,
    version: Annotated[
        int | None, typer.Option("--version", min=1, help="Catalog version (default: latest).")
    ] = None,
    set_: SetOption = None,
    payload: PayloadOption = None,
    db: DbOption = None,
    workers: WorkersOption = None,
    resume: Annotated[
        str | None, typer.Option("--resume", help="Continue an interrupted execution by id.")
    ] = None,
    as_json: OutcomeJsonOption = False,
    trace: Annotated[
        Path | None,
        typer.Option("--trace", help="Write the run's trace spans to this file as OTLP JSON."),
    ] = None,
    log_level: LogLevelOption = None,
    log_format: LogFormatOption = None,
) -> None:
    """Run a playbook to its end with an embedded event log (SQLite) and in-process workers."""
    with exits_on_error(EXIT_INVALID), _outcome_on_error(as_json):
        settings = Settings.load(db=db, workers=workers, log_level=log_level, log_format=log_format)
        setup_logging(settings)
        job = _prepare(file, set_ or [], payload, resume, settings, version)
    run_job(settings, job, as_json, trace)


def run_job(settings: Settings, job: Job, as_json: bool, trace: Path | None = None) -> None:
    """Run `job` in this process to its end, report it (`--json` or on a terminal) and exit
    with the code of its outcome; its spans go to `trace` (OTLP JSON) when given."""
    live = sys.stdout.isatty() and not as_json
    with (
        exits_on_error(),
        _outcome_on_error(as_json, job.resume),
        tracing.traced("noetl-run", otlp_endpoint(), trace),
    ):
        summary = _run_without_waiting_for_threads(_execute(settings, job, live, as_json))
    report_outcome(summary, as_json)
    code = exit_code(summary.status)
    if threading.active_count() > 1:
        # A task abandoned by a timeout or a cancel still runs in a thread that cannot be
        # stopped; the outcome is reported and the log written, so leave without joining it.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    raise typer.Exit(code)


class ResumeRefused(ConflictError):
    """`--resume` of an execution another process runs: refused, the execution untouched;
    `status` is its status as the log has it (normally `running`), not this refusal's."""

    def __init__(self, message: str, status: str) -> None:
        super().__init__(message)
        self.status = status


@contextlib.contextmanager
def _outcome_on_error(as_json: bool, execution_id: str | None = None) -> Iterator[None]:
    """With `--json`, a refusal or a failure is still the one JSON object on stdout (status
    `invalid` when nothing was started or resumed, the execution's own status when another
    process runs the one `--resume` names, else `failed`); `exits_on_error` then says why on
    stderr and exits. An execution `--resume` names that the log does not have is invalid input
    (exit 2); another process running it is a refusal (exit 1, error kind `conflict`)."""
    try:
        yield
    except (NoetlError, OSError) as exc:
        invalid = isinstance(exc, (PlaybookError, ConfigError, OSError, NotFoundError))
        if as_json:
            error = {"kind": _kind(exc), "message": str(exc)}
            status = "invalid" if invalid else "failed"
            if isinstance(exc, ResumeRefused):
                status = exc.status
            outcome = {"execution_id": execution_id, "status": status, "result": None}
            typer.echo(json.dumps({**outcome, "error": error}))
        if isinstance(exc, NotFoundError):
            raise ConfigError(str(exc)) from None
        raise


def _kind(exc: Exception) -> str:
    for kinds, name in _ERROR_KINDS:
        if isinstance(exc, kinds):
            return name
    return "store"


_ERROR_KINDS: tuple[tuple[type[Exception] | tuple[type[Exception], ...], str], ...] = (
    (PlaybookError, "invalid_playbook"),
    (NotFoundError, "not_found"),
    (ConflictError, "conflict"),
    ((ConfigError, OSError), "invalid_input"),
)


def _run_without_waiting_for_threads(
    main: Coroutine[Any, Any, ExecutionSummary],
) -> ExecutionSummary:
    """Like `asyncio.run`, but closing does not wait for threads still running blocking tasks."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(main)
    finally:
        for task in asyncio.all_tasks(loop):
            task.cancel()
        loop.run_until_complete(asyncio.sleep(0))
        loop.close()


class Job:
    """What to run: a new execution (playbook + payload, `retry` for a retry) or the
    resumption of one."""

    def __init__(
        self,
        playbook: PlaybookDef | None = None,
        source: str | None = None,
        payload: dict[str, Any] | None = None,
        resume: str | None = None,
        retry: dict[str, Any] | None = None,
    ) -> None:
        self.playbook, self.source, self.payload, self.resume = playbook, source, payload, resume
        self.retry = retry


def _prepare(
    file: str | None,
    sets: list[str],
    payload: str | None,
    resume: str | None,
    settings: Settings,
    version: int | None = None,
) -> Job:
    if resume is not None:
        if file is not None or sets or payload or version is not None:
            raise ConfigError("--resume takes no playbook file, --version, --set or --payload")
        return Job(resume=resume)
    if file is None:
        raise ConfigError("give a playbook file or catalog path to run (or --resume ID)")
    playbook, source = asyncio.run(_load(locate(file, version), settings))
    return Job(playbook, source, merged_payload(payload, sets))


async def _load(located: Located, settings: Settings) -> tuple[PlaybookDef, str]:
    """The playbook file, or the catalog entry in the local database (never created here)."""
    if located.file is not None:
        return await load_located(located, None)
    try:
        stores = await open_stores(settings)
    except NotFoundError as exc:  # no database, so no catalog
        raise NotFoundError(located.not_found(str(exc))) from None
    try:
        return await load_located(located, stores.catalog)
    finally:
        await stores.close()


async def _execute(settings: Settings, job: Job, live: bool, as_json: bool) -> ExecutionSummary:
    if job.resume is not None and not settings.db_path.exists():  # opening would create one
        raise NotFoundError(
            f"execution {job.resume} not found: there is no event log at {settings.db_path}"
        )
    runtime = await open_embedded(settings)
    try:
        # `print(secret)` in a task shows ***; with --json, prints go to stderr so that stdout
        # holds exactly the one JSON object.
        with masked_output(runtime.resources.masks, stdout_to_stderr=as_json):
            return await _follow(runtime, job, live)
    finally:
        await runtime.close()


async def _follow(runtime: Runtime, job: Job, live: bool) -> ExecutionSummary:
    view = _progress_view() if live else None
    if view is not None:
        runtime.control.listen(view)
    if job.resume is not None:
        execution_id = job.resume
        with contextlib.ExitStack() as held:
            try:  # one resumer at a time
                held.enter_context(execution_lease(runtime.settings.db_path, execution_id))
            except ConflictError as refused:
                summary = await runtime.store.get_execution(execution_id)
                raise ResumeRefused(str(refused), summary.status) from None
            await runtime.control.resume(execution_id)
            return await _wait(runtime, execution_id, view)
    assert job.playbook is not None
    execution_id = await runtime.control.start(
        job.playbook, job.payload, source=job.source, retry=job.retry
    )
    with execution_lease(runtime.settings.db_path, execution_id):
        return await _wait(runtime, execution_id, view)


def _progress_view() -> ProgressView:
    """The live view of a run on a terminal; rich is imported only then (cold start of `noetl
    run --json` and of runs in scripts)."""
    from rich.console import Console

    from noetl.cli.progress import ProgressView

    return ProgressView(Console(stderr=False))


async def _wait(runtime: Runtime, execution_id: str, view: ProgressView | None) -> ExecutionSummary:
    if view is not None:
        view.execution_id = execution_id
    _cancel_on_interrupt(runtime, execution_id)
    if view is None:
        return await runtime.control.wait(execution_id)
    with view:
        return await runtime.control.wait(execution_id)


def _cancel_on_interrupt(runtime: Runtime, execution_id: str) -> None:
    """First Ctrl-C cancels the execution cleanly; a second one is the usual KeyboardInterrupt."""
    loop = asyncio.get_running_loop()
    tasks: list[asyncio.Task[None]] = []

    def interrupted() -> None:
        loop.remove_signal_handler(signal.SIGINT)
        tasks.append(loop.create_task(runtime.control.cancel(execution_id, "interrupted (Ctrl-C)")))

    loop.add_signal_handler(signal.SIGINT, interrupted)
    loop.add_signal_handler(signal.SIGTERM, interrupted)


def register(app: typer.Typer) -> None:
    """Add `run` to the CLI."""
    app.command("run")(run)
