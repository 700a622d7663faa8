"""`noetl catalog register|list|show`: the local catalog of versioned playbooks (SQLite)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from noetl.config import Settings
from noetl.dsl.load import load_playbook
from noetl.errors import ConfigError, NoetlError, NotFoundError, PlaybookError
from noetl.store.catalog import CatalogEntry, CatalogStore
from noetl.store.sqlite import SqliteCatalogStore

T = TypeVar("T")
DbOption = Annotated[Path | None, typer.Option("--db", help="SQLite file of the local store.")]

catalog_app = typer.Typer(help="Register and read versioned playbooks.", no_args_is_help=True)


def from_catalog(db_path: Path, path: str, version: int | None) -> str:
    """The YAML of catalog `path` (`version`, else the latest) in the database at `db_path`.

    Used by `noetl run PATH`; ConfigError when the database or the entry does not exist.
    """
    if not db_path.is_file():
        what = "no such playbook file" if version is None else "no catalog to look it up in"
        raise ConfigError(f"{path}: {what} (no NoETL database at {db_path})")

    async def look_up(store: CatalogStore) -> CatalogEntry:
        return await store.get(path, version)

    try:
        return asyncio.run(_using(db_path, look_up)).source
    except NotFoundError as exc:
        prefix = "no such playbook file, and " if version is None else ""
        raise ConfigError(f"{path}: {prefix}{exc}") from None


@catalog_app.command("register")
def register_playbook(
    file: Annotated[Path, typer.Argument(help="Playbook YAML file.")],
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the entry as JSON.")] = False,
    server: Annotated[
        str | None, typer.Option("--server", help="Register on this server, not locally.")
    ] = None,
) -> None:
    """Register FILE under its metadata.path (else its name); changed content gets a new version."""
    if server is not None:
        from noetl.cli.remote import register_playbook as register_remote

        _report(register_remote(server, file), as_json)
        return
    try:
        source = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        _fail(f"{file}: cannot read: {exc}", code=2)
    try:
        playbook = load_playbook(source, file=str(file))
    except PlaybookError as exc:
        for problem in exc.problems:
            typer.echo(str(problem), err=True)
        raise typer.Exit(2) from None
    path = playbook.path or playbook.name

    async def store_it(store: CatalogStore) -> tuple[CatalogEntry, bool]:
        return await store.register(path, playbook.name, source)

    entry, created = _with_catalog(db, store_it, create=True)
    _report({**entry.to_dict(), "created": created}, as_json)


def _report(entry: Mapping[str, Any], as_json: bool) -> None:
    """What `register` prints: the entry as JSON, or one line saying what happened."""
    if as_json:
        typer.echo(json.dumps(dict(entry), default=str))
    elif entry.get("created"):
        typer.echo(f"registered {entry['path']} version {entry['version']}")
    else:
        typer.echo(f"unchanged: {entry['path']} version {entry['version']} has the same content")


@catalog_app.command("list")
def list_entries(
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The latest version of every registered playbook."""
    entries = _with_catalog(db, lambda store: store.list())
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
) -> None:
    """Print the YAML of one version of a registered playbook."""
    entry = _with_catalog(db, lambda store: store.get(path, version))
    typer.echo(entry.source, nl=not entry.source.endswith("\n"))


def _with_catalog(
    db: Path | None, use: Callable[[CatalogStore], Awaitable[T]], *, create: bool = False
) -> T:
    """Open the catalog, run `use`, close; errors become one line on stderr and exit 1."""
    db_path = Settings.load(db=db).db_path
    if not create and not db_path.is_file():
        _fail(f"no NoETL database at {db_path} (register a playbook first, or pass --db)")
    try:
        return asyncio.run(_using(db_path, use))
    except NoetlError as exc:
        _fail(str(exc))


async def _using(db_path: Path, use: Callable[[CatalogStore], Awaitable[T]]) -> T:
    store = SqliteCatalogStore.open(db_path)
    try:
        return await use(store)
    finally:
        await store.close()


def _fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    """Add `catalog` to the CLI."""
    app.add_typer(catalog_app, name="catalog")
