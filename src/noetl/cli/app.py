"""Entry point of the `noetl` console script: the Typer app and its sub-commands.

A command's module is imported when that command runs (or when `--help` lists them), never for
every command: `noetl run` must not pay for what `noetl server start` imports (FastAPI, uvicorn,
psycopg, NATS...). Cold start is measured by `benchmarks/embedded.py --case cli_hello`, and
`tests/unit/test_cli_imports.py` checks that the embedded path imports none of the distributed
stack.

The cyclic garbage collector is off while a command starts (`main`) and the objects of startup
are frozen once its module is imported (`_started`): imports allocate a few hundred thousand
objects that live until the process ends, and collecting them again and again during startup
and at exit cost about 7 % of a one-step `noetl run` (benchmarks/README.md).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, MutableMapping
from typing import Any

import typer
import typer.main
from typer.core import TyperGroup

from noetl import __version__

# Command (or command group) name -> the module of noetl.cli whose `register(app)` adds it, in
# the order `noetl --help` lists them.
COMMAND_MODULES: dict[str, str] = {
    "validate": "validate",
    "schema": "validate",
    "run": "run",
    "execute": "remote",
    "status": "remote",
    "cancel": "remote",
    "retry": "retry",
    "executions": "inspect",
    "events": "inspect",
    "results": "inspect",
    "logs": "inspect",
    "prune": "prune",
    "catalog": "catalog",
    "credentials": "credentials",
    "hook": "hook",
    "schedule": "schedule",
    "scheduler": "schedule",
    "import": "import_playbooks",
    "server": "server",
    "dev": "dev",
    "db": "server",
    "worker": "worker",
    "workers": "workers",
    "ui": "ui",
}


class _CommandsOnDemand(MutableMapping[str, Any]):
    """The Click commands of the app by name, each built from its module on first lookup."""

    def __init__(self) -> None:
        self._built: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self._built:
            module = COMMAND_MODULES[name]  # KeyError: no such command
            commands = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
            # `__import__`, not `importlib.import_module`: the latter hides the module from
            # `python -X importtime`, the tool that measures this cold start.
            __import__(f"noetl.cli.{module}", fromlist=["register"]).register(commands)
            self._built.update(typer.main.get_group(commands).commands)
        return self._built[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self._built[name] = command

    def __delitem__(self, name: str) -> None:
        del self._built[name]

    def __iter__(self) -> Iterator[str]:
        return iter({**dict.fromkeys(COMMAND_MODULES), **self._built})

    def __len__(self) -> int:
        return len({*COMMAND_MODULES, *self._built})


class _LazyGroup(TyperGroup):
    """The root group: its commands are `_CommandsOnDemand`."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = _CommandsOnDemand()


app = typer.Typer(
    name="noetl",
    help="NoETL: run YAML playbooks on an event-sourced engine, embedded or distributed.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=_LazyGroup,
)


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
    _started()


def _started() -> None:
    """The command to run and its modules are imported: from now on collect garbage as usual,
    but never again look at what startup allocated (modules, classes, functions: they live as
    long as the process). Only `main` turned the collector off; a caller that invokes `app`
    in its own process (tests, embedding) keeps its collector as it was."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


def main() -> None:
    """Console-script entry point."""
    gc.disable()  # until the command starts (`_started`)
    app()
