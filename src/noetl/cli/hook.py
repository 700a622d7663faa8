"""`noetl hook add|list|delete`: webhooks that start a catalog playbook (`POST
/api/v2/hooks/{name}` on a server), on the local database (a server started on it serves them)
or on a `--server`. The secret is printed once, by `add`; only its hash is stored."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer

from noetl.cli.remote import ServerOption, with_client
from noetl.config import Settings
from noetl.errors import ConfigError, ConflictError, NoetlError, NotFoundError
from noetl.store.hooks import Hook, check_hook_name, hash_secret, new_secret
from noetl.store.sqlite import SqliteCatalogStore
from noetl.store.sqlite.hooks import SqliteHookStore

T = TypeVar("T")
DbOption = Annotated[Path | None, typer.Option("--db", help="SQLite file of the local store.")]
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
    if server is not None:
        made = _remote(server, lambda c: c.add_hook(name, path, version))
    else:

        async def local(hooks: Any, catalog: Any) -> dict[str, Any]:
            check_hook_name(name)
            try:
                await catalog.get(path, version)
            except NotFoundError as exc:
                raise ConfigError(f"path: {exc}") from None
            secret = new_secret()
            hook = await hooks.add(Hook(name, path, version, hash_secret(secret)))
            return {**hook.to_dict(), "secret": secret}

        made = _local(db, local)
    typer.echo(f"hook      POST /api/v2/hooks/{made['name']}  (starts {made['path']})")
    typer.echo(f"secret    {made['secret']}  (send it as X-NoETL-Hook-Secret; shown only now)")


@hook_app.command("list")
def list_hooks(db: DbOption = None, server: ServerOption = None) -> None:
    """Every hook (JSON; never their secrets)."""
    if server is not None:
        shown = _remote(server, lambda c: c.hooks())
    else:

        async def local(hooks: Any, _: Any) -> list[dict[str, Any]]:
            return [hook.to_dict() for hook in await hooks.list()]

        shown = _local(db, local)
    typer.echo(json.dumps(shown, indent=2))


@hook_app.command("delete")
def delete(name: str, db: DbOption = None, server: ServerOption = None) -> None:
    """Remove a hook."""
    if server is not None:
        _remote(server, lambda c: c.delete_hook(name))
    else:

        async def local(hooks: Any, _: Any) -> None:
            if not await hooks.delete(name):
                raise NotFoundError(f"hook {name!r} not found")

        _local(db, local)
    typer.echo(f"deleted hook {name}")


def _local(db: Path | None, use: Callable[[Any, Any], Awaitable[T]]) -> T:
    path = Settings.load(db=db).db_path

    async def go() -> T:
        hooks = SqliteHookStore.open(path)
        catalog = SqliteCatalogStore.open(path)
        try:
            return await use(hooks, catalog)
        finally:
            await catalog.close()
            await hooks.close()

    try:
        return asyncio.run(go())
    except (ConfigError, ConflictError, NotFoundError) as exc:
        _fail(str(exc), 2)
    except NoetlError as exc:
        _fail(str(exc), 1)


def _remote(server: str, use: Callable[[Any], Awaitable[Any]]) -> Any:
    async def go(client: Any) -> Any:
        try:
            return await use(client)
        except (NotFoundError, ConflictError) as exc:
            raise ConfigError(str(exc)) from None

    return with_client(server, go)


def _fail(message: str, code: int) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    """Add `hook` to the CLI."""
    app.add_typer(hook_app, name="hook")
