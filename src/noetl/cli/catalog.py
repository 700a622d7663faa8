"""`noetl catalog register|list|show`: versioned playbooks, in the local catalog (SQLite) or,
with `--server`, in a server's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from noetl.cli.options import DbOption, JsonOption
from noetl.cli.terminal import EXIT_INVALID, exits_on_error, report_entry, with_stores
from noetl.dsl.load import load_playbook
from noetl.store.catalog import register_declared

ServerOption = Annotated[
    str | None, typer.Option("--server", help="Use this server's catalog, not the local one.")
]

catalog_app = typer.Typer(help="Register and read versioned playbooks.", no_args_is_help=True)


@catalog_app.command("register")
def register_playbook(
    file: Annotated[Path, typer.Argument(help="Playbook YAML file.")],
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the entry as JSON.")] = False,
    server: ServerOption = None,
) -> None:
    """Register FILE under its metadata.path (else its name); changed content gets a new version."""
    with exits_on_error(EXIT_INVALID):
        try:
            source = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise OSError(f"{file}: cannot read: {exc}") from None
        playbook = load_playbook(source, file=str(file))
    path = playbook.path or playbook.name
    entry, created = with_stores(
        db,
        server,
        lambda stores: register_declared(
            stores.catalog, path, playbook.name, source, playbook.version
        ),
        create=True,
    )
    report_entry({**entry.to_dict(), "created": created}, as_json)


@catalog_app.command("list")
def list_entries(
    db: DbOption = None,
    as_json: JsonOption = False,
    server: ServerOption = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many.")] = 100,
    offset: Annotated[int, typer.Option(min=0, help="After skipping this many.")] = 0,
) -> None:
    """The latest version of every registered playbook, by path (a page: --limit, --offset)."""
    entries = with_stores(
        db, server, lambda stores: stores.catalog.list(limit=limit, offset=offset)
    )
    if len(entries) == limit:
        typer.echo(f"(more may follow: --offset {offset + limit})", err=True)
    if as_json:
        typer.echo(json.dumps([entry.to_dict() for entry in entries], indent=2))
        return
    table = Table("path", "version", "name", "registered", "sha256")
    for entry in entries:
        table.add_row(
            entry.path, str(entry.version), entry.name, entry.created_at, entry.sha256[:12]
        )
    Console().print(table)


@catalog_app.command("show")
def show(
    path: Annotated[str, typer.Argument(help="Catalog path of the playbook.")],
    version: Annotated[
        int | None, typer.Option("--version", min=1, help="Version (default: the latest).")
    ] = None,
    db: DbOption = None,
    server: ServerOption = None,
) -> None:
    """Print the YAML of one version of a registered playbook."""
    entry = with_stores(db, server, lambda stores: stores.catalog.get(path, version))
    typer.echo(entry.source, nl=not entry.source.endswith("\n"))


def register(app: typer.Typer) -> None:
    """Add `catalog` to the CLI."""
    app.add_typer(catalog_app, name="catalog")
