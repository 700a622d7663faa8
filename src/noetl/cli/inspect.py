"""`noetl executions list|show`, `noetl events` and `noetl results`: read the local event log
and result store, or with `--server` a server's."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from noetl.cli.options import DbOption, JsonOption
from noetl.cli.terminal import dump_json, with_stores
from noetl.engine.events import TERMINAL_PLAYBOOK, Event
from noetl.runtime.assembled import Stores
from noetl.runtime.live import log_pages
from noetl.runtime.step_results import step_result
from noetl.runtime.task_logs import each_task_log, render, task_logs
from noetl.store.port import EventStore

ServerOption = Annotated[
    str | None, typer.Option("--server", help="Read from this NoETL server, not the local log.")
]

executions_app = typer.Typer(
    help="Inspect executions in the local event log.", no_args_is_help=True
)


def _console() -> Console:
    """A console for tables; piped output gets room for whole ids instead of a wrapped table."""
    console = Console()
    return console if console.is_terminal else Console(width=200)


@executions_app.command("list")
def list_executions(
    status: Annotated[str | None, typer.Option(help="Only this status.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many.")] = 20,
    db: DbOption = None,
    as_json: JsonOption = False,
    server: ServerOption = None,
) -> None:
    """Executions, newest first."""
    rows = with_stores(db, server, lambda s: s.events.list_executions(status=status, limit=limit))
    if as_json:
        dump_json([r.to_dict() for r in rows])
        return
    table = Table("execution", "playbook", "status", "started", "finished", "steps done/failed")
    for r in rows:
        table.add_row(
            r.execution_id,
            r.playbook_path or r.playbook_name,
            r.status,
            r.started_at,
            r.finished_at or "",
            f"{r.steps_done}/{r.steps_failed}",
        )
    _console().print(table)


@executions_app.command("show")
def show_execution(execution_id: str, db: DbOption = None, server: ServerOption = None) -> None:
    """One execution's summary: status, times, step counts, result, error (JSON)."""
    summary = with_stores(db, server, lambda s: s.events.get_execution(execution_id))
    dump_json(summary.to_dict())


def events(
    execution_id: str,
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Every event as a JSON object.")] = False,
    server: ServerOption = None,
    follow: Annotated[
        bool,
        typer.Option("--follow", "-f", help="Print events as they are written, until the end."),
    ] = False,
) -> None:
    """The event log of one execution, in order."""
    if follow:
        with_stores(db, server, lambda s: _follow(s.events, execution_id, as_json))
        return
    with_stores(db, server, lambda s: print_events(s.events, execution_id, as_json))


async def print_events(log: EventStore, execution_id: str, as_json: bool) -> None:
    """Print the execution's log a page at a time (a long log is never in memory whole): a
    JSON array with `as_json`, else one line per event, as `--follow` prints them."""
    await log.get_execution(execution_id)  # an unknown id is an error, not an empty log
    separator = "[\n  "
    async for page in log_pages(log, execution_id):
        for event in page:
            if as_json:
                typer.echo(separator + json.dumps(event.to_dict(), default=str), nl=False)
                separator = ",\n  "
            else:
                typer.echo(_line(event))
    if as_json:
        typer.echo("[]" if separator.startswith("[") else "\n]")


FOLLOW_POLL = 0.25  # seconds between reads of a followed log


async def _follow(store: Any, execution_id: str, as_json: bool) -> None:
    """Print the execution's events as they come (one line each; JSON lines with `as_json`)
    until the execution has ended."""
    await store.get_execution(execution_id)  # an unknown id is an error, not an endless wait
    last = 0
    while True:
        for event in await store.read(execution_id, after_seq=last):
            last = event.seq or last
            typer.echo(event.to_json() if as_json else _line(event))
            if event.type in TERMINAL_PLAYBOOK:
                return
        await asyncio.sleep(FOLLOW_POLL)


def _line(event: Event) -> str:
    """One event as one line of text: seq, time, type, where, origin, and who ran it."""
    where = event.step or ""
    if event.iteration is not None:
        where += f"[{event.iteration}]"
    worker = event.payload.get("worker_id") if isinstance(event.payload, Mapping) else None
    who = f" worker={worker}" if worker else ""
    return f"{event.seq:>5} {event.created_at} {event.type:<18} {where} ({event.origin}){who}"


def logs(
    execution_id: str,
    step: Annotated[str | None, typer.Option(help="Only the tasks of this step.")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
    server: ServerOption = None,
) -> None:
    """What an execution's tasks printed (stdout, stderr, logging), attempt by attempt."""
    if as_json:
        dump_json(with_stores(db, server, lambda stores: _logs(stores, execution_id, step)))
        return
    with_stores(db, server, lambda stores: _print_logs(stores, execution_id, step))


async def _logs(stores: Stores, execution_id: str, step: str | None) -> list[dict[str, Any]]:
    await stores.events.get_execution(execution_id)  # an unknown id is an error
    return await task_logs(stores.events, stores.results, execution_id, step)


async def _print_logs(stores: Stores, execution_id: str, step: str | None) -> None:
    """Each entry printed as it is read: a long log is never held whole."""
    await stores.events.get_execution(execution_id)  # an unknown id is an error
    async for entry in each_task_log(stores.events, stores.results, execution_id, step):
        typer.echo(render(entry), nl=False)


def results(
    execution_id: str,
    step: str,
    db: DbOption = None,
    server: ServerOption = None,
) -> None:
    """The result of STEP in an execution (loaded from the result store when it is a reference)."""
    dump_json(with_stores(db, server, lambda stores: _find(stores, execution_id, step)))


async def _find(stores: Stores, execution_id: str, step: str) -> Any:
    return await step_result(stores.events, stores.results, execution_id, step)


def register(app: typer.Typer) -> None:
    """Add `executions` and `events` to the CLI."""
    app.add_typer(executions_app, name="executions")
    app.command("events")(events)
    app.command("results")(results)
    app.command("logs")(logs)
