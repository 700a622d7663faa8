"""`noetl retry`: run a failed execution again from where it failed, reusing what finished.

Embedded (the local SQLite log) by default; with `--server` the server prepares and starts the
retry (`POST /api/v2/executions/{id}/retry`). The rules are in `noetl.runtime.retry`.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any

import typer

from noetl.cli.options import DbOption, OutcomeJsonOption, PayloadOption, SetOption, WorkersOption
from noetl.cli.remote import ServerOption, with_client
from noetl.cli.run import Job, run_job
from noetl.cli.terminal import EXIT_INVALID, merged_payload, report_started
from noetl.config import Settings
from noetl.errors import ConfigError, ConflictError, NotFoundError, PlaybookError, RemoteError
from noetl.runtime.assemble import open_stores
from noetl.runtime.retry import RetryJob, prepare_retry


def retry(
    execution_id: Annotated[str, typer.Argument(help="The failed execution to retry.")],
    from_step: Annotated[
        str | None,
        typer.Option("--from", help="Run again from this step (default: where it failed)."),
    ] = None,
    version: Annotated[
        int | None,
        typer.Option("--version", min=1, help="Catalog version of the same playbook to run."),
    ] = None,
    file: Annotated[
        Path | None, typer.Option("--file", help="A newer playbook file (same path) to run.")
    ] = None,
    set_: SetOption = None,
    payload: PayloadOption = None,
    db: DbOption = None,
    workers: WorkersOption = None,
    server: ServerOption = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="With --server: wait for the end and report it.")
    ] = False,
    as_json: OutcomeJsonOption = False,
) -> None:
    """Start a new execution linked to a failed one (`retry_of`): the steps it finished are
    reused (recorded as `step.reused`), the failed step (or --from STEP) and what follows run;
    --payload and --set are deep-merged over the failed execution's payload."""
    overrides, source = _read_options(version, file, payload, set_)
    if server is not None:
        body = {"from_step": from_step, "version": version, "playbook": source}
        _retry_remote(server, execution_id, {**body, "payload": overrides}, wait, as_json)
        return
    settings = Settings.load(db=db, workers=workers)
    label = str(file) if file is not None else None
    job = _prepare_local(settings, execution_id, from_step, version, source, label, overrides)
    run_job(settings, Job(job.playbook, job.source, job.payload, retry=job.retry), as_json)


def _read_options(
    version: int | None, file: Path | None, payload: str | None, sets: list[str] | None
) -> tuple[dict[str, Any], str | None]:
    """The payload overrides (--payload, --set) and the newer playbook's source (--file); a bad
    option exits 2."""
    try:
        if version is not None and file is not None:
            raise ConfigError("give --version or --file, not both")
        overrides = merged_payload(payload, sets)
        source = file.read_text(encoding="utf-8") if file is not None else None
    except (ConfigError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_INVALID) from None
    return overrides, source


def _prepare_local(
    settings: Settings,
    execution_id: str,
    from_step: str | None,
    version: int | None,
    source: str | None,
    file: str | None,
    overrides: dict[str, Any],
) -> RetryJob:
    """The retry of `execution_id` prepared from the local log (see `_prepare`); a bad
    argument (an unknown execution or step, a playbook with problems) exits 2."""
    try:
        return asyncio.run(
            _prepare(settings, execution_id, from_step, version, source, file, overrides)
        )
    except PlaybookError as exc:
        for problem in exc.problems:
            typer.echo(str(problem), err=True)
        raise typer.Exit(EXIT_INVALID) from None
    except (ConfigError, ConflictError, NotFoundError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_INVALID) from None


async def _prepare(
    settings: Settings,
    execution_id: str,
    from_step: str | None,
    version: int | None,
    source: str | None,
    file: str | None,
    overrides: dict[str, Any],
) -> RetryJob:
    """The retry of `execution_id` from the local event log (and catalog, with `version`)."""
    try:
        stores = await open_stores(settings)
    except NotFoundError as exc:  # no database
        raise ConfigError(f"{exc}: nothing to retry") from None
    try:
        if version is not None:
            path = (await stores.events.get_execution(execution_id)).playbook_path
            entry = await stores.catalog.get(path, version)
            source, file = entry.source, f"catalog:{path}@v{version}"
        return await prepare_retry(
            stores.events,
            execution_id,
            from_step=from_step,
            source=source,
            file=file,
            overrides=overrides,
        )
    finally:
        await stores.close()


def _retry_remote(
    server: str, execution_id: str, body: dict[str, Any], wait: bool, as_json: bool
) -> None:
    async def go(client: Any) -> dict[str, Any] | str:
        try:
            new_id = await client.retry(execution_id, **body)
        except (NotFoundError, ConflictError) as exc:  # a bad argument, as in the embedded mode
            raise ConfigError(str(exc)) from None
        except RemoteError as exc:
            if exc.status != 400:
                raise
            raise ConfigError(str(exc).split(": HTTP 400: ", 1)[-1]) from None
        return dict(await client.wait(new_id)) if wait else str(new_id)

    outcome = with_client(server, go)
    report_started(outcome, as_json)


def register(app: typer.Typer) -> None:
    """Add `retry` to the CLI."""
    app.command("retry")(retry)
