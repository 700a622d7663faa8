"""`noetl server start` and `noetl db migrate`: the distributed mode's server and its database
(`noetl dev up`, a whole local cluster, is `cli/dev.py`)."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Annotated, Any

import typer

from noetl.cli.eventloop import event_loop_runner
from noetl.cli.options import LogFormatOption, LogLevelOption, setup_logging
from noetl.config import Settings, otlp_endpoint
from noetl.errors import ConfigError, NoetlError
from noetl.observe import tracing

server_app = typer.Typer(help="The NoETL server (control plane + REST API).", no_args_is_help=True)
db_app = typer.Typer(help="The PostgreSQL database of the distributed mode.", no_args_is_help=True)

HomeOption = Annotated[
    Path | None, typer.Option("--home", help="Directory for NoETL's local files (.noetl).")
]
GRACEFUL_SHUTDOWN = 10  # seconds open requests get at shutdown before they are cancelled
# Seconds a request's head (request line and headers) may take to arrive, from when the
# connection opens or the request's first byte arrives; uvicorn has no such limit, so a client
# trickling header bytes (slowloris) held its connection for ever. Bodies have the app's
# BODY_DEADLINE; idle kept-alive connections uvicorn's `timeout_keep_alive`.
HEADER_DEADLINE = 10.0
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
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers", min=0, help="Without --nats: workers inside the server (default 4)."
        ),
    ] = None,
    home: HomeOption = None,
    ack_wait: AckWaitOption = None,
    log_level: LogLevelOption = None,
    log_format: LogFormatOption = None,
    access_log: Annotated[
        bool, typer.Option(help="Log every request (slows busy servers).")
    ] = False,
    allow_open: Annotated[
        bool | None,
        typer.Option(
            "--allow-open",
            help="Serve a non-loopback address without NOETL_API_TOKEN (anyone who can connect "
            "can run code and read credentials).",
        ),
    ] = None,
) -> None:
    """Serve the REST API; executions the log says are running are resumed at start.

    With --nats, commands go to NATS for `noetl worker start` processes. Without it they go to
    an in-process queue served by --workers workers inside this process (refused with 0: no
    worker could run them). The tokens come from NOETL_API_TOKEN (admin: every route) and
    NOETL_WORKER_TOKEN (workers' routes only), never from flags (flags show in `ps`); a
    non-loopback address needs a token (exit 2). A database, NATS or port that cannot be used
    is one line on stderr and exit 1.
    """
    settings = Settings.load(
        host=host,
        port=port,
        pg_dsn=pg,
        nats_url=nats,
        home=home,
        ack_wait=ack_wait,
        workers=workers,
        allow_open=allow_open,
        log_level=log_level,
        log_format=log_format,
    )
    setup_logging(settings)
    _refuse_exposure(settings)
    serve(settings, _local_workers(settings), access_log=access_log)


def _local_workers(settings: Settings) -> int:
    """How many workers run inside the server: none with NATS (worker processes do), else
    --workers, which must then be at least 1 (exit 2); says which queue it runs."""
    if settings.nats_url:
        return 0
    if settings.workers == 0:
        typer.echo(
            "error: without --nats the server's own workers run the commands; "
            "--workers 0 would accept work nothing can run",
            err=True,
        )
        raise typer.Exit(2)
    log = "PostgreSQL" if settings.pg_dsn else f"SQLite {settings.db_path}"
    typer.echo(
        f"no --nats: running the embedded queue with {settings.workers} in-process workers "
        f"(event log: {log}); give --nats URL to use `noetl worker start` processes",
        err=True,
    )
    return settings.workers


def serve(settings: Settings, local_workers: int, *, access_log: bool) -> None:
    """Serve the app (API and web UI) until SIGINT/SIGTERM; a part that cannot start is one
    line on stderr and exit 1 (`noetl server start` and `noetl ui`)."""
    try:
        with tracing.traced("noetl-server", otlp_endpoint()):
            event_loop_runner()(_serve(settings, local_workers, settings.log_level, access_log))
    except ImportError as exc:  # FastAPI, uvicorn and the drivers come with the extra
        typer.echo(
            f"error: the server needs the distributed extra ({exc.name} is missing): "
            "pip install 'noetl[distributed]'",
            err=True,
        )
        raise typer.Exit(1) from None
    except NoetlError as exc:
        typer.echo(f"error: {one_line(str(exc))}", err=True)
        raise typer.Exit(1) from None


def _refuse_exposure(settings: Settings) -> None:
    """Exit 2 before anything starts when the settings would open the API to the network."""
    try:
        from noetl.server.app import check_exposure
    except ImportError:
        return  # the missing extra is reported when the server starts
    try:
        check_exposure(settings)
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


async def _serve(settings: Settings, local_workers: int, log_level: str, access_log: bool) -> None:
    """Bind the port, open the runtime (database, NATS), then serve: each part that cannot
    start raises a NoetlError saying which and where, before anything else is started."""
    listening = listen(settings.host, settings.port)
    try:
        app = await _assemble_app(settings, local_workers)
    except BaseException:
        listening.close()
        raise
    await _http_server(app, log_level, access_log).serve(sockets=[listening])


async def _assemble_app(settings: Settings, local_workers: int) -> Any:
    """The server's app (API and web UI) on a runtime opened now: executions the log says are
    running are resumed before the first request."""
    from noetl.runtime.assemble import open_server
    from noetl.server.app import create_app

    runtime = await open_server(settings, local_workers=local_workers)

    async def opened(_: Settings) -> Any:
        return runtime

    return create_app(settings, opener=opened)


def _http_server(app: Any, log_level: str, access_log: bool) -> Any:
    """uvicorn serving `app`; open requests get GRACEFUL_SHUTDOWN seconds at shutdown."""
    import uvicorn

    from noetl.cli.header_deadline import header_deadline_protocol

    class Server(uvicorn.Server):
        """Ends the event streams when the shutdown starts: a stream never ends by itself,
        and uvicorn waits for open requests."""

        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            app.state.feed.close()
            await super().shutdown(sockets)

    config = uvicorn.Config(
        app,
        http=header_deadline_protocol(HEADER_DEADLINE),
        log_level=log_level,
        access_log=access_log,
        log_config=None,  # uvicorn's records go through the one logging setup, in its format
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN,
    )
    return Server(config)


def listen(host: str, port: int) -> socket.socket:
    """A listening socket on host:port; ConfigError naming both when it cannot be had."""
    try:
        return _bound(host, port)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def _bound(host: str, port: int) -> socket.socket:
    """A TCP socket listening on host:port, made as `socket.create_server` makes one but with
    protocol IPPROTO_TCP instead of 0. Accepted connections inherit the protocol, and asyncio
    turns Nagle off (TCP_NODELAY) only on sockets that say TCP: with Nagle on, each response
    uvicorn writes in two parts (head, then body) waits for the client's delayed ACK, a
    20-40 ms floor under every request."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )[0]
    listening = socket.socket(family, kind, proto)
    try:
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:  # as create_server: an IPv6 address serves IPv6 only
            listening.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        listening.bind(address)
        listening.listen(2048)
    except OSError:
        listening.close()
        raise
    return listening


def one_line(message: str) -> str:
    """A driver's multi-line message (psycopg adds hints on lines of their own) on one line."""
    return " ".join(part.strip() for part in message.splitlines() if part.strip())


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
    """Add `server` and `db` to the CLI."""
    app.add_typer(server_app, name="server")
    app.add_typer(db_app, name="db")
