"""`noetl ui`: the web UI over the embedded SQLite log, with in-process workers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

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
    workers: Annotated[
        int | None, typer.Option(min=1, help="In-process workers (default 4).")
    ] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "warning",
) -> None:
    """Serve the web UI (and the REST API) over the embedded log; runs started there execute here.

    With NOETL_API_TOKEN set, the page asks for the token once per browser session.
    """
    try:
        import uvicorn

        from noetl.runtime.assemble import open_ui
        from noetl.server.app import create_app
    except ImportError as exc:  # the server's packages come with the distributed extra
        typer.echo(f"error: {exc.name} is missing: pip install 'noetl[distributed]'", err=True)
        raise typer.Exit(1) from None
    settings = Settings.load(db=db, host=host, port=port, home=home, workers=workers)
    typer.echo(f"noetl ui on http://{settings.host}:{settings.port}/  (log: {settings.db_path})")
    uvicorn.run(
        create_app(settings, opener=open_ui),
        host=settings.host,
        port=settings.port,
        log_level=log_level,
        access_log=False,
    )


def register(app: typer.Typer) -> None:
    """Add `ui` to the CLI."""
    app.command("ui")(ui)
