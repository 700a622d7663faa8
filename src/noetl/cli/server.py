"""`noetl server start`, `noetl dev up` and `noetl db migrate`: the distributed mode's processes."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Annotated, Any

import typer

from noetl.config import Settings
from noetl.errors import NoetlError

server_app = typer.Typer(help="The NoETL server (control plane + REST API).", no_args_is_help=True)
dev_app = typer.Typer(help="A local distributed cluster for development.", no_args_is_help=True)
db_app = typer.Typer(help="The PostgreSQL database of the distributed mode.", no_args_is_help=True)

HomeOption = Annotated[
    Path | None, typer.Option("--home", help="Directory for NoETL's local files (.noetl).")
]
AckWaitOption = Annotated[
    int | None,
    typer.Option("--ack-wait", min=1, help="Seconds a worker's lease on a command lasts."),
]


@server_app.command("start")
def start_server(
    host: Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (default 8082).")] = None,
    pg: Annotated[str | None, typer.Option("--pg", help="PostgreSQL DSN of the event log.")] = None,
    nats: Annotated[str | None, typer.Option("--nats", help="NATS URL for commands.")] = None,
    home: HomeOption = None,
    ack_wait: AckWaitOption = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
    access_log: Annotated[
        bool, typer.Option(help="Log every request (slows busy servers).")
    ] = False,
) -> None:
    """Serve the REST API; executions the log says are running are resumed at start.

    The API token comes from NOETL_API_TOKEN (never a flag: flags show in `ps`).
    """
    import uvicorn

    from noetl.server.app import create_app

    settings = Settings.load(
        host=host, port=port, pg_dsn=pg, nats_url=nats, home=home, ack_wait=ack_wait
    )
    app = create_app(settings)
    uvicorn.run(
        app, host=settings.host, port=settings.port, log_level=log_level, access_log=access_log
    )


@dev_app.command("up")
def dev_up(
    workers: Annotated[int, typer.Option(min=0, help="Worker processes to start.")] = 2,
    concurrency: Annotated[int, typer.Option(min=1, help="Concurrent commands per worker.")] = 16,
    port: Annotated[int, typer.Option(help="Server port (0: any free one).")] = 8082,
    home: HomeOption = None,
    ack_wait: AckWaitOption = None,
    fsync: Annotated[
        bool, typer.Option(help="PostgreSQL fsync; --no-fsync is faster but a crash may lose data.")
    ] = True,
) -> None:
    """PostgreSQL, NATS, the server and N workers under ./.noetl/; Ctrl-C stops them all."""
    from noetl.devservers.cluster import DevCluster

    settings = Settings.load(home=home, ack_wait=ack_wait)
    try:
        cluster = DevCluster.start(
            settings.home,
            workers=workers,
            port=port,
            concurrency=concurrency,
            ack_wait=settings.ack_wait,
            durable=fsync,
        )
    except NoetlError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"postgres  {cluster.postgres.dsn}")
    typer.echo(f"nats      {cluster.nats.url}")
    typer.echo(f"server    {cluster.server_url}  (API docs: {cluster.server_url}/docs)")
    typer.echo(f"workers   {len(cluster.workers)} x {concurrency}  (logs: {cluster.home}/logs)")
    typer.echo("ready; Ctrl-C stops everything")
    # Both stop the cluster; SIGINT explicitly, as a shell may start us with it ignored.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        typer.echo("stopping...")
        cluster.stop()


def _interrupt(*_: Any) -> None:
    raise KeyboardInterrupt


@db_app.command("migrate")
def migrate(pg: Annotated[str | None, typer.Option("--pg", help="PostgreSQL DSN.")] = None) -> None:
    """Apply the PostgreSQL migrations that are not applied yet (the server also does at start)."""
    from noetl.store.postgres import migrate as apply

    settings = Settings.load(pg_dsn=pg)
    if not settings.pg_dsn:
        typer.echo("error: give the database with --pg DSN (or NOETL_PG_DSN)", err=True)
        raise typer.Exit(2)
    try:
        applied = asyncio.run(apply(settings.pg_dsn))
    except NoetlError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    if applied:
        typer.echo("applied migrations " + ", ".join(str(version) for version in applied))
    else:
        typer.echo("the database is up to date")


def register(app: typer.Typer) -> None:
    """Add `server`, `dev` and `db` to the CLI."""
    app.add_typer(server_app, name="server")
    app.add_typer(dev_app, name="dev")
    app.add_typer(db_app, name="db")
