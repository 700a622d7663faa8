"""`noetl executions list|show`, `noetl events` and `noetl results`: read the local event log
and result store, or with `--server` a server's."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from noetl.cli.terminal import dump_json, fail, with_stores
from noetl.runtime.assemble import Stores
from noetl.store.results import step_result

DbOption = Annotated[Path | None, typer.Option("--db", help="SQLite file of the event log.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
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
) -> None:
    """The event log of one execution, in order."""
    log = with_stores(db, server, lambda s: s.events.read(execution_id))
    if not log:
        fail(f"execution {execution_id} not found")
    if as_json:
        dump_json([e.to_dict() for e in log])
        return
    table = Table("seq", "type", "step", "iteration", "origin", "time")
    for e in log:
        iteration = "" if e.iteration is None else str(e.iteration)
        table.add_row(str(e.seq), e.type, e.step or "", iteration, e.origin, e.created_at or "")
    _console().print(table)


def results(
    execution_id: str,
    step: str,
    db: DbOption = None,
    server: ServerOption = None,
) -> None:
    """The result of STEP in an execution (loaded from the result store when it is a reference)."""
    dump_json(with_stores(db, server, lambda stores: _find(stores, execution_id, step)))


async def _find(stores: Stores, execution_id: str, step: str) -> Any:
    events = await stores.events.read(execution_id)
    return await step_result(events, stores.results, execution_id, step)


def register(app: typer.Typer) -> None:
    """Add `executions` and `events` to the CLI."""
    app.add_typer(executions_app, name="executions")
    app.command("events")(events)
    app.command("results")(results)
