"""`noetl credentials set|list|delete|keygen`: the local credential store (encrypted, SQLite),
or with `--server URL` the server's (encrypted there with the server's NOETL_SECRET_KEY; the CLI
then needs no key, only the API token of NOETL_API_TOKEN when the server requires one).

Values are never printed: `list` shows names, types and times; errors name fields, not values.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from noetl.cli.options import DbOption
from noetl.cli.terminal import EXIT_INVALID, fail, with_stores
from noetl.config import Settings
from noetl.errors import NoetlError
from noetl.store.credentials import (
    CREDENTIAL_TYPES,
    check_data,
    check_name,
    generate_key,
    make_cipher,
)

T = TypeVar("T")
ServerOption = Annotated[
    str | None,
    typer.Option("--server", help="Manage this NoETL server's credentials, not the local ones."),
]

credentials_app = typer.Typer(
    help="Store credentials (encrypted with NOETL_SECRET_KEY) for tools to use by name.",
    no_args_is_help=True,
)


@credentials_app.command("set")
def set_credential(
    name: Annotated[str, typer.Argument(help="Credential name, as tools refer to it.")],
    type_: Annotated[
        str, typer.Option("--type", help=f"One of: {', '.join(CREDENTIAL_TYPES)}.")
    ] = "generic",
    data: Annotated[
        str, typer.Option("--data", help="The data as a JSON object, or @file.json.")
    ] = "",
    db: DbOption = None,
    server: ServerOption = None,
) -> None:
    """Create or replace credential NAME (needs NOETL_SECRET_KEY, here or on the --server)."""
    parsed = _parse_data(data)
    try:  # every check before the database (or the server) is touched
        check_name(name)
        check_data(name, type_, parsed)
        if server is None:  # a server encrypts with its own key
            make_cipher(Settings.load(db=db).secret_key)
    except NoetlError as exc:
        fail(str(exc), EXIT_INVALID)
    created = _with_credentials(
        db, server, lambda creds: creds.set(name, type_, parsed), create=True
    )
    typer.echo(f"{'created' if created else 'updated'} credential {name} ({type_})")


@credentials_app.command("list")
def list_credentials(
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    server: ServerOption = None,
) -> None:
    """Names, types and times of the stored credentials (never their values)."""
    infos = _with_credentials(db, server, lambda creds: creds.list())
    if as_json:
        typer.echo(json.dumps([info.to_dict() for info in infos], indent=2))
        return
    table = Table("name", "type", "created", "updated")
    for info in infos:
        table.add_row(info.name, info.type, info.created_at, info.updated_at)
    Console().print(table)


@credentials_app.command("delete")
def delete_credential(
    name: Annotated[str, typer.Argument(help="Credential name.")],
    db: DbOption = None,
    server: ServerOption = None,
) -> None:
    """Delete credential NAME."""
    _with_credentials(db, server, lambda creds: creds.delete(name))
    typer.echo(f"deleted credential {name}")


@credentials_app.command("keygen")
def keygen() -> None:
    """Print a new key for NOETL_SECRET_KEY (keep it safe: without it, credentials are lost)."""
    typer.echo(generate_key())


def _parse_data(text: str) -> dict[str, Any]:
    """`--data`: inline JSON or @file; the error names the source, never its content."""
    if not text:
        fail("--data is required: a JSON object, or @file.json", EXIT_INVALID)
    source = "--data"
    if text.startswith("@"):
        source = text[1:]
        try:
            text = Path(source).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            fail(f"{source}: cannot read: {reason}", EXIT_INVALID)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        # Position only: the message of a JSON error could quote part of the secret.
        fail(f"{source}: not valid JSON (line {exc.lineno}, column {exc.colno})", EXIT_INVALID)
    except RecursionError:  # the parser recurses per level
        fail(f"{source}: nested too deeply to parse", EXIT_INVALID)
    if not isinstance(value, dict):
        fail(f"{source}: expected a JSON object", EXIT_INVALID)
    return value


def _with_credentials(
    db: Path | None,
    server: str | None,
    use: Callable[[Any], Awaitable[T]],
    *,
    create: bool = False,
) -> T:
    """Run `use` with the server's credentials (`server`) or the local store's, then close."""
    return with_stores(db, server, lambda stores: use(stores.credentials), create=create)


def register(app: typer.Typer) -> None:
    """Add `credentials` to the CLI."""
    app.add_typer(credentials_app, name="credentials")
