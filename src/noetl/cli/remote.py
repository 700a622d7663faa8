"""Commands that talk to a running server: `execute`, `status`, `cancel`. (The read commands
take `--server` themselves: `catalog`, `executions`, `events`, `results`, `credentials`.)

The JSON they print is the same as the embedded commands print (`noetl run --json`,
`noetl executions ... --json`): scripts work against either mode.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from noetl.cli.options import PayloadOption, SetOption
from noetl.cli.terminal import (
    EXIT_CANCELLED,
    EXIT_INVALID,
    dump_json,
    exits_on_error,
    merged_payload,
    report_started,
)
from noetl.config import Settings
from noetl.dsl.load import load_playbook
from noetl.dsl.locate import Located, locate
from noetl.errors import ConfigError, NotFoundError

T = TypeVar("T")
ServerOption = Annotated[
    str | None, typer.Option("--server", help="Server URL (default NOETL_SERVER_URL).")
]


def with_client(server: str | None, use: Callable[[Any], Awaitable[T]]) -> T:
    """Run `use(client)` against the server (`server`, else NOETL_SERVER_URL); errors as
    `exits_on_error`."""
    settings = Settings.load(server_url=server)
    with exits_on_error(server=settings.server_url):
        from noetl.client.transport import ServerClient

        async def go() -> T:
            client = ServerClient(settings.server_url, token=settings.api_token)
            try:
                return await use(client)
            finally:
                await client.aclose()

        return asyncio.run(go())


def execute(
    target: Annotated[str, typer.Argument(help="A playbook file (sent inline) or catalog path.")],
    server: ServerOption = None,
    version: Annotated[int | None, typer.Option(help="Catalog version (default latest).")] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Wait for the end and report it.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    set_: SetOption = None,
    payload: PayloadOption = None,
) -> None:
    """Start an execution on a server; with --wait, report its end like `noetl run`."""
    with exits_on_error(EXIT_INVALID):
        located = locate(target, version)
        request = _start_request(located, merged_payload(payload, set_))
        children = _children(located.file, {})

    try:
        outcome = with_client(
            server, lambda client: _start(client, located, children, request, wait)
        )
    except KeyboardInterrupt:
        typer.echo("interrupted: execution cancelled", err=True)
        raise typer.Exit(EXIT_CANCELLED) from None
    report_started(outcome, as_json)


async def _start(
    client: Any, located: Located, children: dict[str, str], request: dict[str, Any], wait: bool
) -> dict[str, Any] | str:
    """Start the execution (its child playbooks registered first, so workers anywhere can run
    them); with `wait`, its summary, else its id."""
    for path, source in children.items():
        await client.register(source, path=path)
    try:
        execution_id = await client.start(**request)
    except NotFoundError as exc:  # an unknown catalog path is a bad argument, like a file
        raise ConfigError(located.not_found(str(exc))) from None
    if not wait:
        return str(execution_id)
    try:
        return dict(await client.wait(execution_id))
    except asyncio.CancelledError:  # Ctrl-C while waiting: stop the execution as well
        await client.cancel(execution_id)
        raise


def _start_request(located: Located, payload: dict[str, Any]) -> dict[str, Any]:
    """The POST /executions body: inline YAML for a playbook file, else a catalog path."""
    if located.file is None:
        return {"path": located.target, "version": located.version, "payload": payload}
    source = located.file.read_text(encoding="utf-8")
    load_playbook(source, file=str(located.file))  # report file:line:col here, before sending
    return {"playbook": source, "payload": payload}


def _children(file: Path | None, found: dict[str, str]) -> dict[str, str]:
    """Child playbook files that `playbook` tasks name relative to `file`, recursively, keyed by
    the path as written: the CLI registers them in the server's catalog under that path, which
    is where a worker without these files looks them up."""
    if file is None:
        return found
    playbook = load_playbook(file.read_text(encoding="utf-8"), file=str(file))
    tasks = [t for step in playbook.steps for t in step.tasks] + list(playbook.workbook.values())
    for task in tasks:
        path = task.config.get("path")
        if task.kind != "playbook" or not isinstance(path, str) or "{{" in path:
            continue
        child = locate(path, task.config.get("version"), base_file=str(file)).file
        if path not in found and child is not None:
            found[path] = child.read_text(encoding="utf-8")
            _children(child, found)
    return found


def status(execution_id: str, server: ServerOption = None) -> None:
    """One execution's summary from a server (JSON, as `noetl executions show`)."""
    dump_json(with_client(server, lambda c: c.execution(execution_id)))


def cancel(execution_id: str, server: ServerOption = None) -> None:
    """Ask a running execution on a server to stop; prints its summary."""
    dump_json(with_client(server, lambda c: c.cancel(execution_id)))


def register(app: typer.Typer) -> None:
    """Add `execute`, `status` and `cancel` to the CLI."""
    app.command("execute")(execute)
    app.command("status")(status)
    app.command("cancel")(cancel)
