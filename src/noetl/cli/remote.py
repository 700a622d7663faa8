"""Commands that talk to a running server: `execute`, `status`, `cancel`, and the `--server`
variants of `catalog register`, `executions list|show`, `events` and `results`.

The JSON they print is the same as the embedded commands print (`noetl run --json`,
`noetl executions ... --json`, `noetl events --json`): scripts work against either mode.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from noetl.cli.inputs import parse_payload, parse_sets
from noetl.cli.run import EXIT_CANCELLED, EXIT_FAILED, EXIT_INVALID, _report
from noetl.config import Settings
from noetl.dsl.load import load_playbook
from noetl.errors import ConfigError, NoetlError, NotFoundError, PlaybookError
from noetl.store.port import ExecutionSummary

T = TypeVar("T")
ServerOption = Annotated[
    str | None, typer.Option("--server", help="Server URL (default NOETL_SERVER_URL).")
]


def with_client(server: str | None, use: Callable[[Any], Awaitable[T]]) -> T:
    """Run `use(client)` against the server; NoETL errors become one line on stderr + exit 1."""
    try:
        from noetl.client.transport import ServerClient
    except ImportError as exc:  # aiohttp comes with the distributed extra
        typer.echo(
            f"error: talking to a server needs the distributed extra ({exc.name} is missing): "
            "pip install 'noetl[distributed]'",
            err=True,
        )
        raise typer.Exit(EXIT_FAILED) from None

    settings = Settings.load(server_url=server)

    async def go() -> T:
        client = ServerClient(settings.server_url, token=settings.api_token)
        try:
            return await use(client)
        finally:
            await client.aclose()

    try:
        return asyncio.run(go())
    except PlaybookError as exc:
        for problem in exc.problems:
            typer.echo(str(problem), err=True)
        raise typer.Exit(EXIT_INVALID) from None
    except ConfigError as exc:  # a bad argument (e.g. an unknown catalog path), like `run`
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_INVALID) from None
    except NoetlError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_FAILED) from None


def with_log(server: str, use: Callable[[Any], Awaitable[T]]) -> T:
    """Run `use` with the server's read-only event log (the `--server` inspect commands)."""
    from noetl.client.event_log import RemoteEventLog

    return with_client(server, lambda client: use(RemoteEventLog(client)))


def with_results(server: str, use: Callable[[Any, Any], Awaitable[T]]) -> T:
    """Run `use(log, results)` with the server's event log and result store (no retrying: a
    person is waiting)."""
    from noetl.client.event_log import RemoteEventLog
    from noetl.client.results import RemoteResultStore

    return with_client(
        server, lambda client: use(RemoteEventLog(client), RemoteResultStore(client, patience=0))
    )


def execute(
    target: Annotated[str, typer.Argument(help="A playbook file (sent inline) or catalog path.")],
    server: ServerOption = None,
    version: Annotated[int | None, typer.Option(help="Catalog version (default latest).")] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Wait for the end and report it.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Payload value key=value (dotted keys nest). Repeatable."),
    ] = None,
    payload: Annotated[
        str | None, typer.Option("--payload", help="Payload as JSON, or @file (JSON/YAML).")
    ] = None,
) -> None:
    """Start an execution on a server; with --wait, report its end like `noetl run`."""
    try:
        body = parse_payload(payload)
        body.update(parse_sets(set_ or []))
        request = _start_request(target, version, body)
        children = _children(request.pop("file", None), {})
    except PlaybookError as exc:
        for problem in exc.problems:
            typer.echo(str(problem), err=True)
        raise typer.Exit(EXIT_INVALID) from None
    except (ConfigError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_INVALID) from None

    try:
        outcome = with_client(server, lambda client: _start(client, children, request, wait))
    except KeyboardInterrupt:
        typer.echo("interrupted: execution cancelled", err=True)
        raise typer.Exit(EXIT_CANCELLED) from None
    if isinstance(outcome, str):
        typer.echo(json.dumps({"execution_id": outcome}) if as_json else outcome)
        return
    summary = ExecutionSummary(**outcome)
    _report(summary, as_json)
    raise typer.Exit({"done": 0, "cancelled": EXIT_CANCELLED}.get(summary.status, EXIT_FAILED))


async def _start(
    client: Any, children: dict[str, str], request: dict[str, Any], wait: bool
) -> dict[str, Any] | str:
    """Start the execution (its child playbooks registered first, so workers anywhere can run
    them); with `wait`, its summary, else its id."""
    for path, source in children.items():
        await client.register(source, path=path)
    try:
        execution_id = await client.start(**request)
    except NotFoundError as exc:  # an unknown catalog path is a bad argument, like a file
        raise ConfigError(str(exc)) from None
    if not wait:
        return str(execution_id)
    try:
        return dict(await client.wait(execution_id))
    except asyncio.CancelledError:  # Ctrl-C while waiting: stop the execution as well
        await client.cancel(execution_id)
        raise


def _start_request(target: str, version: int | None, payload: dict[str, Any]) -> dict[str, Any]:
    """The POST /executions body: inline YAML for an existing file, else a catalog path."""
    path = Path(target)
    if path.is_file():
        if version is not None:
            raise ConfigError("--version applies to catalog paths, not to playbook files")
        source = path.read_text(encoding="utf-8")
        load_playbook(source, file=str(path))  # report file:line:col here, before sending
        return {"playbook": source, "payload": payload, "file": path}
    if target.endswith((".yaml", ".yml")):
        raise ConfigError(f"{target}: no such playbook file")
    return {"path": target, "version": version, "payload": payload}


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
        child = file.parent / path
        if path not in found and task.config.get("version") is None and child.is_file():
            found[path] = child.read_text(encoding="utf-8")
            _children(child, found)
    return found


def status(execution_id: str, server: ServerOption = None) -> None:
    """One execution's summary from a server (JSON, as `noetl executions show`)."""
    _dump(with_client(server, lambda c: c.execution(execution_id)))


def cancel(execution_id: str, server: ServerOption = None) -> None:
    """Ask a running execution on a server to stop; prints its summary."""
    _dump(with_client(server, lambda c: c.cancel(execution_id)))


def register_playbook(server: str, file: Path) -> dict[str, Any]:
    """`noetl catalog register --server`: the catalog entry (with `created`)."""
    source = file.read_text(encoding="utf-8")
    return with_client(server, lambda c: c.register(source))


def _dump(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, default=str))


def register(app: typer.Typer) -> None:
    """Add `execute`, `status` and `cancel` to the CLI."""
    app.command("execute")(execute)
    app.command("status")(status)
    app.command("cancel")(cancel)
