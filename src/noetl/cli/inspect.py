"""`noetl executions list|show` and `noetl events`: read the local event log."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from noetl.config import Settings
from noetl.errors import NoetlError, NotFoundError
from noetl.store.port import EventStore
from noetl.store.results import FileResultStore, ResultStore, is_ref
from noetl.store.sqlite import SqliteEventStore

T = TypeVar("T")
DbOption = Annotated[Path | None, typer.Option("--db", help="SQLite file of the event log.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
ServerOption = Annotated[
    str | None, typer.Option("--server", help="Read from this NoETL server, not the local log.")
]

executions_app = typer.Typer(
    help="Inspect executions in the local event log.", no_args_is_help=True
)


def _with_store(
    db: Path | None, use: Callable[[EventStore], Awaitable[T]], server: str | None = None
) -> T:
    """Open the local store read-side, run `use`, close; errors become one line + exit 1."""
    if server is not None:  # the same reads, answered by a server's API
        from noetl.cli.remote import with_log

        return with_log(server, use)
    path = Settings.load(db=db).db_path
    if not path.is_file():
        typer.echo(
            f"error: no NoETL database at {path} (run a playbook first, or pass --db)", err=True
        )
        raise typer.Exit(1)

    async def go() -> T:
        store = SqliteEventStore.open(path)
        try:
            return await use(store)
        finally:
            await store.close()

    try:
        return asyncio.run(go())
    except NoetlError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


def _console() -> Console:
    """A console for tables; piped output gets room for whole ids instead of a wrapped table."""
    console = Console()
    return console if console.is_terminal else Console(width=200)


def _dump(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, default=str))


@executions_app.command("list")
def list_executions(
    status: Annotated[str | None, typer.Option(help="Only this status.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many.")] = 20,
    db: DbOption = None,
    as_json: JsonOption = False,
    server: ServerOption = None,
) -> None:
    """Executions, newest first."""
    rows = _with_store(db, lambda s: s.list_executions(status=status, limit=limit), server)
    if as_json:
        _dump([r.to_dict() for r in rows])
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
    summary = _with_store(db, lambda s: s.get_execution(execution_id), server)
    _dump(summary.to_dict())


def events(
    execution_id: str,
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Every event as a JSON object.")] = False,
    server: ServerOption = None,
) -> None:
    """The event log of one execution, in order."""
    log = _with_store(db, lambda s: s.read(execution_id), server)
    if not log:
        typer.echo(f"error: execution {execution_id} not found", err=True)
        raise typer.Exit(1)
    if as_json:
        _dump([e.to_dict() for e in log])
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
    if server is not None:  # the server's log and result store, through its API
        from noetl.cli.remote import with_results

        _dump(with_results(server, lambda log, store: _find(log, store, execution_id, step)))
        return
    store = FileResultStore(Settings.load(db=db).db_path.parent / "results")
    _dump(_with_store(db, lambda log: _find(log, store, execution_id, step)))


_RESULT_EVENTS = frozenset({"step.done", "loop.done"})


async def _find(log: EventStore, store: ResultStore, execution_id: str, step: str) -> Any:
    """The last result of `step` in the log, loaded from `store` when it is a reference."""
    for event in reversed(await log.read(execution_id)):
        if event.step == step and event.iteration is None and event.type in _RESULT_EVENTS:
            return await _load(event.payload, store)
    raise NotFoundError(f"execution {execution_id} has no result for step '{step}'")


async def _load(payload: Mapping[str, Any], store: ResultStore) -> Any:
    if "results" in payload:  # a loop: its ordered iteration results
        return [await store.get(r) if is_ref(r) else r for r in payload["results"]]
    value = payload.get("result")
    return await store.get(value) if isinstance(value, Mapping) and is_ref(value) else value


def register(app: typer.Typer) -> None:
    """Add `executions` and `events` to the CLI."""
    app.add_typer(executions_app, name="executions")
    app.command("events")(events)
    app.command("results")(results)
