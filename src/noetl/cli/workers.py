"""`noetl workers list`: the registered workers, alive or lost (embedded file or a server)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from noetl.cli.inspect import ServerOption, _console
from noetl.cli.options import DbOption, JsonOption
from noetl.config import Settings
from noetl.errors import NoetlError
from noetl.store.workers import WorkerStatus

workers_app = typer.Typer(help="Workers: who runs what, alive or lost.", no_args_is_help=True)


@workers_app.command("list")
def list_workers(
    db: DbOption = None, as_json: JsonOption = False, server: ServerOption = None
) -> None:
    """Every registered worker: pool, slots busy, running commands, last heartbeat, status."""
    found = _from_server(server) if server is not None else _from_file(db)
    if as_json:
        typer.echo(json.dumps({"workers": [w.to_dict() for w in found]}, indent=2))
        return
    table = Table("worker", "pool", "busy/slots", "running", "version", "last heartbeat", "status")
    for worker in found:
        beat = worker.beat
        table.add_row(
            beat.worker_id,
            beat.pool,
            f"{beat.busy}/{beat.slots}",
            ", ".join(beat.running),
            beat.version,
            worker.last_heartbeat,
            worker.status,
        )
    _console().print(table)


def _from_server(server: str) -> list[WorkerStatus]:
    from noetl.cli.remote import with_client
    from noetl.client.workers import RemoteWorkerRegistry

    async def use(client: Any) -> list[WorkerStatus]:
        return await RemoteWorkerRegistry(client).list()

    return with_client(server, use)


def _from_file(db: Path | None) -> list[WorkerStatus]:
    """The embedded workers of the local database (those of `noetl run` and `noetl ui`)."""
    from noetl.store.sqlite.workers import SqliteWorkerRegistry

    path = Settings.load(db=db).db_path
    if not path.is_file():
        typer.echo(f"error: no NoETL database at {path} (pass --db or --server)", err=True)
        raise typer.Exit(1)

    async def go() -> list[WorkerStatus]:
        registry = SqliteWorkerRegistry.open(path)
        try:
            return await registry.list()
        finally:
            await registry.close()

    try:
        return asyncio.run(go())
    except NoetlError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


def register(app: typer.Typer) -> None:
    """Add `workers` to the CLI."""
    app.add_typer(workers_app, name="workers")
