"""Entry point of the `noetl` console script: the Typer app and its sub-commands."""

from __future__ import annotations

import typer

from noetl import __version__
from noetl.cli import catalog as catalog_cli
from noetl.cli import credentials as credentials_cli
from noetl.cli import hook as hook_cli
from noetl.cli import import_playbooks as import_cli
from noetl.cli import inspect as inspect_cli
from noetl.cli import prune as prune_cli
from noetl.cli import remote as remote_cli
from noetl.cli import retry as retry_cli
from noetl.cli import run as run_cli
from noetl.cli import schedule as schedule_cli
from noetl.cli import server as server_cli
from noetl.cli import ui as ui_cli
from noetl.cli import validate as validate_cli
from noetl.cli import worker as worker_cli
from noetl.cli import workers as workers_cli

app = typer.Typer(
    name="noetl",
    help="NoETL: run YAML playbooks on an event-sourced engine, embedded or distributed.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
validate_cli.register(app)
run_cli.register(app)
schedule_cli.register(app)
inspect_cli.register(app)
remote_cli.register(app)
prune_cli.register(app)
retry_cli.register(app)
server_cli.register(app)
worker_cli.register(app)
workers_cli.register(app)
catalog_cli.register(app)
credentials_cli.register(app)
hook_cli.register(app)
import_cli.register(app)
ui_cli.register(app)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"noetl {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """NoETL command line."""


def main() -> None:
    """Console-script entry point."""
    app()
