"""`noetl worker start`: a worker process of the distributed mode (no HTTP endpoint of its own)."""

from __future__ import annotations

import asyncio
import signal
from typing import Annotated

import typer

from noetl.cli.eventloop import event_loop_runner
from noetl.cli.options import LogFormatOption, LogLevelOption, setup_logging
from noetl.config import Settings, otlp_endpoint
from noetl.errors import NoetlError
from noetl.observe import tracing
from noetl.tools.masking import masked_output

worker_app = typer.Typer(help="Distributed workers.", no_args_is_help=True)


@worker_app.command("start")
def start_worker(
    server: Annotated[
        str | None, typer.Option(help="Server URL (default NOETL_SERVER_URL).")
    ] = None,
    nats: Annotated[str | None, typer.Option("--nats", help="NATS URL of the command bus.")] = None,
    pool: Annotated[
        str | None, typer.Option(help="Worker pool to serve (default 'default').")
    ] = None,
    concurrency: Annotated[
        int | None, typer.Option(min=1, help="Commands run at once (default 4).")
    ] = None,
    ack_wait: Annotated[
        int | None, typer.Option("--ack-wait", min=1, help="Seconds a command lease lasts.")
    ] = None,
    worker_id: Annotated[
        str | None,
        typer.Option(
            "--worker-id", help="Name of this worker (default NOETL_WORKER_ID, host:pid)."
        ),
    ] = None,
    heartbeat: Annotated[
        int | None,
        typer.Option(min=1, help="Seconds between heartbeats; lost after 3 missed (default 5)."),
    ] = None,
    log_level: LogLevelOption = None,
    log_format: LogFormatOption = None,
) -> None:
    """Run commands of one pool until SIGTERM/Ctrl-C, then finish the running ones and exit."""
    settings = Settings.load(
        server_url=server,
        nats_url=nats,
        pool=pool,
        workers=concurrency,
        ack_wait=ack_wait,
        worker_id=worker_id,
        heartbeat=heartbeat,
        log_level=log_level,
        log_format=log_format,
    )
    setup_logging(settings)
    try:
        with tracing.traced("noetl-worker", otlp_endpoint()):
            event_loop_runner()(_serve(settings))
    except NoetlError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


async def _serve(settings: Settings) -> None:
    from noetl.runtime.assemble import open_worker

    runtime = await open_worker(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    typer.echo(
        f"worker: pool {settings.pool!r} x {settings.workers}, server {settings.server_url}, "
        f"id {settings.worker_id}",
        err=True,
    )
    # What tasks print goes through the same masks as their events, as in `noetl run`.
    with masked_output(runtime.resources.masks):
        try:
            await stop.wait()
            typer.echo("worker: draining running commands", err=True)
        finally:
            await runtime.close(drain=True)


def register(app: typer.Typer) -> None:
    """Add `worker` to the CLI."""
    app.add_typer(worker_app, name="worker")
