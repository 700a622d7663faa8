"""`noetl ui`: the web UI over the embedded SQLite log, with in-process workers."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from noetl.cli.options import LogFormatOption, LogLevelOption, WorkersOption, setup_logging
from noetl.config import Settings


def ui(
    db: Annotated[
        Path | None, typer.Option("--db", help="SQLite file of the log (default .noetl/noetl.db).")
    ] = None,
    host: Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (default 8082).")] = None,
    home: Annotated[
        Path | None, typer.Option("--home", help="Directory for NoETL's local files (.noetl).")
    ] = None,
    workers: WorkersOption = None,
    log_level: LogLevelOption = None,
    log_format: LogFormatOption = None,
) -> None:
    """Serve the web UI (and the REST API) over the embedded log; runs started there execute here.

    It runs the database's schedules too, as `noetl scheduler` does; each slot fires once.

    With NOETL_API_TOKEN set, the page asks for the token once per browser session.
    """
    from noetl.cli.server import serve

    settings = Settings.load(
        db=db,
        host=host,
        port=port,
        home=home,
        workers=workers,
        log_level=log_level,
        log_format=log_format,
    )
    settings = replace(settings, pg_dsn=None, nats_url=None)  # the embedded log, always
    setup_logging(settings)
    typer.echo(f"noetl ui on http://{settings.host}:{settings.port}/  (log: {settings.db_path})")
    serve(settings, settings.workers, access_log=False)


def register(app: typer.Typer) -> None:
    """Add `ui` to the CLI."""
    app.command("ui")(ui)
