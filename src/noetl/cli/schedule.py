"""`noetl schedule add|list|show|pause|resume|delete` (the local database, or a `--server`) and
`noetl scheduler` (runs the local database's due schedules in this process)."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from noetl.cli.options import DbOption, JsonOption, PayloadOption, SetOption, WorkersOption
from noetl.cli.remote import ServerOption
from noetl.cli.terminal import merged_payload, with_stores_by_name
from noetl.config import Settings, parse_duration
from noetl.errors import ConfigError, NoetlError
from noetl.runtime.assemble import open_embedded
from noetl.runtime.scheduler import Scheduler
from noetl.store.schedules import Schedule

schedule_app = typer.Typer(help="Run catalog playbooks on a schedule.", no_args_is_help=True)


@schedule_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="Schedule name.")],
    path: Annotated[str, typer.Argument(help="Catalog path of the playbook.")],
    cron: Annotated[
        str | None, typer.Option(help="Cron expression: 5 fields, or 6 with seconds first.")
    ] = None,
    every: Annotated[str | None, typer.Option(help="Interval instead: 30s, 5m, 1h...")] = None,
    tz: Annotated[str, typer.Option("--tz", help="Time zone of the cron expression.")] = "UTC",
    version: Annotated[
        int | None, typer.Option(min=1, help="Catalog version (default latest).")
    ] = None,
    set_: SetOption = None,
    payload: PayloadOption = None,
    misfire: Annotated[str, typer.Option(help="skip | run_once | catch_up")] = "skip",
    catch_up_limit: Annotated[int, typer.Option(help="catch_up: most missed slots run.")] = 10,
    overlap: Annotated[str, typer.Option(help="allow | skip | cancel (while one runs)")] = "allow",
    paused: Annotated[bool, typer.Option("--paused", help="Add it paused.")] = False,
    db: DbOption = None,
    server: ServerOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add a schedule; prints its next fire times."""
    try:
        schedule = Schedule(
            name,
            path,
            cron=cron,
            every=None if every is None else parse_duration(every, "--every"),
            timezone=tz,
            payload=merged_payload(payload, set_),
            version=version,
            misfire=misfire,
            catch_up_limit=catch_up_limit,
            overlap=overlap,
            paused=paused,
        )
    except (ConfigError, OSError) as exc:
        _fail(str(exc), 2)
    added = with_stores_by_name(
        db, server, lambda s: s.schedules.add_schedule(**schedule.to_dict())
    )
    _print([added], as_json)


@schedule_app.command("list")
def list_schedules(
    db: DbOption = None, server: ServerOption = None, as_json: JsonOption = False
) -> None:
    """Every schedule with its next fire times."""
    _print(with_stores_by_name(db, server, lambda s: s.schedules.schedules()), as_json)


@schedule_app.command("show")
def show(name: str, db: DbOption = None, server: ServerOption = None) -> None:
    """One schedule with its next fire times and latest slots (JSON)."""
    shown = with_stores_by_name(db, server, lambda s: s.schedules.schedule(name))
    typer.echo(json.dumps(shown, indent=2, default=str))


@schedule_app.command("pause")
def pause(name: str, db: DbOption = None, server: ServerOption = None) -> None:
    """Stop firing a schedule."""
    _set_paused(name, True, db, server)


@schedule_app.command("resume")
def resume(name: str, db: DbOption = None, server: ServerOption = None) -> None:
    """Fire a paused schedule again (the slots it missed follow its misfire policy)."""
    _set_paused(name, False, db, server)


@schedule_app.command("delete")
def delete(name: str, db: DbOption = None, server: ServerOption = None) -> None:
    """Remove a schedule and its slot records."""
    with_stores_by_name(db, server, lambda s: s.schedules.delete_schedule(name))
    typer.echo(f"deleted schedule {name}")


def scheduler(
    db: DbOption = None,
    workers: WorkersOption = None,
) -> None:
    """Run the local database's schedules in this process until Ctrl-C or SIGTERM (embedded
    mode); the executions it still runs then are cancelled."""
    settings = Settings.load(db=db, workers=workers)

    async def main() -> None:
        runtime = await open_embedded(settings)
        started: set[str] = set()  # what it fired and may still run

        def fired(name: str, slot: str, execution_id: str) -> None:
            started.difference_update([e for e in started if not runtime.control.holds(e)])
            started.add(execution_id)
            typer.echo(f"{slot}  {name}  execution {execution_id}")

        try:
            loop = Scheduler(
                runtime.schedules, runtime.catalog, runtime.control, runtime.store, on_fire=fired
            )
            typer.echo(f"scheduler on {settings.db_path}; Ctrl-C stops it", err=True)
            loop.start()
            await _until_stopped()
            await loop.stop()
            # No other process runs them: left running, they would stay so in the log (and an
            # `overlap: skip` schedule would skip for ever). Stopped like `noetl run`'s.
            for execution_id in sorted(started):
                if runtime.control.holds(execution_id):
                    await runtime.control.cancel(execution_id, "the scheduler stopped")
        finally:
            await runtime.close()

    try:
        asyncio.run(main())
    except NoetlError as exc:
        _fail(str(exc), 1)
    typer.echo("stopped", err=True)


async def _until_stopped() -> None:
    """Return on SIGINT or SIGTERM (handled here: a shell starts a background process with
    SIGINT ignored, and SIGTERM's default would end it before it cleans up)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


def _set_paused(name: str, paused: bool, db: Path | None, server: str | None) -> None:
    with_stores_by_name(db, server, lambda s: s.schedules.pause_schedule(name, paused))
    typer.echo(f"{'paused' if paused else 'resumed'} schedule {name}")


def _print(shown: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(shown, default=str))
        return
    table = Table("name", "playbook", "when", "misfire", "overlap", "next fire times (UTC)")
    for s in shown:
        when = f"{s['cron']} ({s['timezone']})" if s["cron"] else f"every {s['every']:g}s"
        upcoming = "paused" if s["paused"] else ", ".join(s["next_fire_times"])
        table.add_row(s["name"], s["path"], when, s["misfire"], s["overlap"], upcoming)
    Console().print(table)


def _fail(message: str, code: int) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    """Add `schedule` and `scheduler` to the CLI."""
    app.add_typer(schedule_app, name="schedule")
    app.command("scheduler")(scheduler)
