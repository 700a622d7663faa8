"""`noetl prune`: remove finished executions older than a given age (the local database, or a
`--server`'s), with their events, claims and stored results."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from noetl.cli.options import DbOption
from noetl.cli.remote import ServerOption, with_client
from noetl.config import Settings, parse_duration
from noetl.errors import ConfigError, NoetlError
from noetl.runtime.retention import prune as prune_executions
from noetl.runtime.retention import statuses_of
from noetl.store.sqlite.retention import SqliteRetention


def prune(
    older_than: Annotated[
        str, typer.Option("--older-than", help="Ended longer ago than this: 30d, 12h, 90m...")
    ],
    status: Annotated[str, typer.Option(help="done | failed | cancelled | all")] = "all",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count, remove nothing.")] = False,
    db: DbOption = None,
    server: ServerOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the counts as JSON.")] = False,
) -> None:
    """Remove finished executions (never running ones, nor parents of running children)."""
    try:
        seconds = parse_duration(older_than, "--older-than")
        wanted = statuses_of(status)
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if server is not None:
        counts = with_client(server, lambda c: c.prune(older_than, status=status, dry_run=dry_run))
    else:
        settings = Settings.load(db=db)
        try:
            counts = asyncio.run(_local(settings.db_path, seconds, wanted, dry_run))
        except NoetlError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
    _print(counts, as_json)


async def _local(db_path: Path, seconds: float, statuses: Any, dry_run: bool) -> dict[str, Any]:
    if not db_path.is_file():
        raise ConfigError(f"no NoETL database at {db_path}")
    retention = SqliteRetention.open(db_path)
    try:
        report = await prune_executions(
            retention,
            older_than=seconds,
            statuses=statuses,
            dry_run=dry_run,
            results_root=db_path.parent / "results",
        )
    finally:
        await retention.close()
    return report.to_dict(dry_run=dry_run)


def _print(counts: dict[str, Any], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(counts))
        return
    verb = "would remove" if counts["dry_run"] else "removed"
    typer.echo(
        f"{verb} {counts['executions']} executions: {counts['events']} events, "
        f"{counts['claims']} claims, {counts['results']} stored results"
    )


def register(app: typer.Typer) -> None:
    """Add `prune` to the CLI."""
    app.command("prune")(prune)
