"""`noetl dev up` and `noetl dev down`: PostgreSQL, NATS, a server and workers under the home,
run in the foreground (Ctrl-C stops them) or in the background, with the tokens they need."""

from __future__ import annotations

import secrets
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from noetl.cli import devprocess
from noetl.cli.options import LogFormatOption, LogLevelOption, setup_logging
from noetl.cli.server import AckWaitOption, HomeOption
from noetl.config import Settings
from noetl.errors import NoetlError

dev_app = typer.Typer(help="A local distributed cluster for development.", no_args_is_help=True)


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
    background: Annotated[
        bool, typer.Option("--background", help="Start it, print where, and return.")
    ] = False,
    log_level: LogLevelOption = None,
    log_format: LogFormatOption = None,
) -> None:
    """PostgreSQL, NATS, the server and N workers under ./.noetl/; Ctrl-C (or `noetl dev
    down`) stops them all. A worker that dies is reported and replaced.

    The server requires NOETL_API_TOKEN (the workers get NOETL_WORKER_TOKEN, never the admin
    token). Unless NOETL_API_TOKEN is set, a token is generated and printed once, as an
    `export` line; the worker token is generated unless NOETL_WORKER_TOKEN is set, and never
    printed."""
    settings = Settings.load(
        home=home, ack_wait=ack_wait, log_level=log_level, log_format=log_format
    )
    setup_logging(settings)
    running = devprocess.running_pid(settings.home)
    if running is not None:
        typer.echo(
            f"error: a cluster already runs under {settings.home} (pid {running}); "
            "`noetl dev down` stops it",
            err=True,
        )
        raise typer.Exit(1)
    tokens = _dev_tokens(settings)
    if background:
        args = ["--workers", str(workers), "--concurrency", str(concurrency), "--port", str(port)]
        args += ["--home", str(settings.home), "--ack-wait", str(settings.ack_wait)]
        args += [] if fsync else ["--no-fsync"]
        args += ["--log-level", settings.log_level, "--log-format", settings.log_format]
        _start_in_background(settings.home, args, tokens)
        return
    _run_cluster(settings, tokens, workers, concurrency, port, fsync)


@dataclass(frozen=True)
class DevTokens:
    """The tokens of a dev cluster; `generated`: the admin token is new and must be shown."""

    api_token: str
    worker_token: str
    generated: bool

    def environment(self) -> dict[str, str | None]:
        """The environment a `dev up` started by this one gets: the tokens as already set."""
        return {"NOETL_API_TOKEN": self.api_token, "NOETL_WORKER_TOKEN": self.worker_token}


def _show_generated(tokens: DevTokens) -> None:
    """Print a generated admin token, the one place it is ever shown, ready to paste."""
    if tokens.generated:
        typer.echo("token     generated; the CLI and the API need it:")
        typer.echo(f"export NOETL_API_TOKEN={tokens.api_token}")


def _dev_tokens(settings: Settings) -> DevTokens:
    """The tokens set in the environment, or fresh ones (256 random bits each)."""
    return DevTokens(
        api_token=settings.api_token or secrets.token_urlsafe(32),
        worker_token=settings.worker_token or secrets.token_urlsafe(32),
        generated=settings.api_token is None,
    )


def _run_cluster(
    settings: Settings, tokens: DevTokens, workers: int, concurrency: int, port: int, fsync: bool
) -> None:
    from noetl.devservers.cluster import DevCluster

    try:
        cluster = DevCluster.start(
            settings.home,
            workers=workers,
            port=port,
            concurrency=concurrency,
            ack_wait=settings.ack_wait,
            durable=fsync,
            logging=("--log-level", settings.log_level, "--log-format", settings.log_format),
            api_token=tokens.api_token,
            worker_token=tokens.worker_token,
        )
    except NoetlError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    devprocess.write_pid(settings.home)
    typer.echo(f"postgres  {cluster.postgres.dsn}")
    typer.echo(f"nats      {cluster.nats.url}")
    typer.echo(f"server    {cluster.server_url}  (API docs: {cluster.server_url}/docs)")
    typer.echo(f"workers   {len(cluster.workers)} x {concurrency}  (logs: {cluster.home}/logs)")
    _show_generated(tokens)
    typer.echo(devprocess.READY, nl=True)
    # Both stop the cluster; SIGINT explicitly, as a shell may start us with it ignored.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    code = 0
    try:
        code = _watch(cluster)
    except KeyboardInterrupt:
        pass
    finally:
        typer.echo("stopping...")
        cluster.stop()
        devprocess.remove_pid(settings.home)
    raise typer.Exit(code)


def _watch(cluster: Any) -> int:
    """Replace workers that die, until interrupted; 1 when the server itself exits."""
    while True:
        time.sleep(devprocess.WATCH_EVERY)
        for index, code in cluster.replace_dead_workers():
            log = cluster.home / "logs" / cluster.worker_log(index)
            typer.echo(f"worker {index + 1} exited with code {code}; started another ({log})")
        server = cluster.server
        if server is not None and server.poll() is not None:
            log = cluster.home / "logs" / "server.log"
            typer.echo(
                f"error: the server exited with code {server.returncode}; see {log}", err=True
            )
            return 1


def _start_in_background(home: Path, args: list[str], tokens: DevTokens) -> None:
    """Start `dev up ARGS` detached, the tokens in its environment: its output goes to a log
    file, so this process prints the generated token, not the detached one."""
    try:
        process, lines = devprocess.start_detached(home, args, tokens.environment())
    except NoetlError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    for line in lines:
        typer.echo(line)
    _show_generated(tokens)
    typer.echo(
        f"running in the background (pid {process}); `noetl dev down --home {home}` stops it"
    )


@dev_app.command("down")
def dev_down(home: HomeOption = None) -> None:
    """Stop the cluster `noetl dev up` runs under this home (in the background or not)."""
    settings = Settings.load(home=home)
    try:
        pid = devprocess.stop(settings.home)
    except NoetlError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"stopped the cluster under {settings.home} (pid {pid})")


def _interrupt(*_: Any) -> None:
    raise KeyboardInterrupt


def register(app: typer.Typer) -> None:
    """Add `dev` to the CLI."""
    app.add_typer(dev_app, name="dev")
