"""`noetl hook add|list|delete`: webhooks that start a catalog playbook (`POST
/api/v2/hooks/{name}` on a server), on the local database (a server started on it serves them)
or on a `--server`. The secret is printed once, by `add`; only its hash is stored."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from noetl.cli.options import DbOption
from noetl.cli.remote import ServerOption
from noetl.cli.terminal import with_stores_by_name

hook_app = typer.Typer(help="Webhooks that start catalog playbooks.", no_args_is_help=True)


@hook_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="Hook name (the last part of its URL).")],
    path: Annotated[str, typer.Argument(help="Catalog path of the playbook it starts.")],
    version: Annotated[
        int | None, typer.Option(min=1, help="Catalog version (default latest).")
    ] = None,
    db: DbOption = None,
    server: ServerOption = None,
) -> None:
    """Make a hook; prints its URL path and its secret (shown this once only)."""
    made = with_stores_by_name(db, server, lambda s: s.hooks.add_hook(name, path, version))
    typer.echo(f"hook      POST /api/v2/hooks/{made['name']}  (starts {made['path']})")
    typer.echo(f"secret    {made['secret']}  (send it as X-NoETL-Hook-Secret; shown only now)")


@hook_app.command("list")
def list_hooks(db: DbOption = None, server: ServerOption = None) -> None:
    """Every hook (JSON; never their secrets)."""
    typer.echo(json.dumps(with_stores_by_name(db, server, lambda s: s.hooks.hooks()), indent=2))


@hook_app.command("delete")
def delete(name: str, db: DbOption = None, server: ServerOption = None) -> None:
    """Remove a hook."""
    with_stores_by_name(db, server, lambda s: s.hooks.delete_hook(name))
    typer.echo(f"deleted hook {name}")


def register(app: typer.Typer) -> None:
    """Add `hook` to the CLI."""
    app.add_typer(hook_app, name="hook")
