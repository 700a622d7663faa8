"""What every command shares with the person at the terminal: the payload read from `--payload`
and `--set`, the exit codes, errors as one line (or a playbook's problems) and an exit code, an
execution's outcome as a summary or one JSON object, and the stores a command reads.

Exit codes: 0 done, 1 failed (or a NoETL error), 2 bad input (a playbook's problems, a bad
argument or file), 130 cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import typer
import yaml

from noetl.config import Settings
from noetl.engine.routing import deep_merge
from noetl.errors import ConfigError, ConflictError, NoetlError, NotFoundError, PlaybookError
from noetl.store.port import ExecutionSummary

if TYPE_CHECKING:
    from noetl.runtime.assembled import Stores

T = TypeVar("T")
EXIT_DONE, EXIT_FAILED, EXIT_INVALID, EXIT_CANCELLED = 0, 1, 2, 130


def merged_payload(payload: str | None, sets: list[str] | None) -> dict[str, Any]:
    """The payload of `run` and `execute`: `--payload`, then every `--set` deep-merged into it
    (`--set a.y=2` keeps `a.x` of `--payload '{"a": {"x": 1}}'`)."""
    return deep_merge(parse_payload(payload), parse_sets(sets or []))


def parse_sets(items: list[str]) -> dict[str, Any]:
    """`a.b=1` -> {"a": {"b": 1}}; values are read as YAML scalars (numbers, booleans, lists)."""
    payload: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: expected key=value")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        target = payload
        parts = key.strip().split(".")
        for part in parts[:-1]:
            nested = target.setdefault(part, {})
            if not isinstance(nested, dict):
                raise ConfigError(f"--set {item!r}: {part!r} is already set to a value")
            target = nested
        target[parts[-1]] = value
    return payload


def parse_payload(text: str | None) -> dict[str, Any]:
    """`--payload` as inline JSON, or `@path` to a JSON or YAML file. Must be an object."""
    if not text:
        return {}
    where = "--payload"
    if text.startswith("@"):
        path = Path(text[1:])
        where = f"--payload {path}"
        try:
            text = path.read_text()
        except OSError as exc:
            raise ConfigError(f"{where}: cannot read the file ({exc.strerror})") from None
        loader: Any = yaml.safe_load
    else:
        loader = json.loads
    try:
        value = loader(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(
            f"{where}: not valid {'JSON' if loader is json.loads else 'YAML'}: {exc}"
        ) from None
    except RecursionError:  # the parsers recurse per level; the depth rule is the runtime's
        raise ConfigError(f"{where}: nested too deeply to parse") from None
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: must be a JSON object, got {type(value).__name__}")
    return value


@contextlib.contextmanager
def exits_on_error(code: int = EXIT_FAILED, *, server: str | None = None) -> Iterator[None]:
    """NoETL errors inside become one line on stderr and an exit: a playbook's problems, a bad
    argument (ConfigError) or an unreadable file exit 2, any other NoETL error `code`. With
    `server`, a missing distributed extra says what to install."""
    try:
        yield
    except PlaybookError as exc:
        for problem in exc.problems:
            typer.echo(str(problem), err=True)
        raise typer.Exit(EXIT_INVALID) from None
    except ConfigError as exc:
        fail(str(exc), EXIT_INVALID)
    except NoetlError as exc:
        fail(str(exc), code)
    except OSError as exc:
        fail(str(exc), EXIT_INVALID)
    except ImportError as exc:
        if server is None:
            raise
        # aiohttp comes with the distributed extra
        fail(
            f"talking to a server needs the distributed extra ({exc.name} is missing): "
            "pip install 'noetl[distributed]'"
        )


def fail(message: str, code: int = EXIT_FAILED) -> NoReturn:
    """`error: message` on stderr, then exit `code`."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def with_stores(
    db: Path | None,
    server: str | None,
    use: Callable[[Stores], Awaitable[T]],
    *,
    create: bool = False,
) -> T:
    """Run `use` with the local stores (`db`) or the server's (`server`), then close them;
    errors as `exits_on_error`."""
    # Imported here: opening the stores pulls in the whole runtime, which commands that only
    # parse a payload or print an outcome do not need (cold start).
    from noetl.runtime.assemble import open_stores

    settings = Settings.load(db=db)

    async def go() -> T:
        stores = await open_stores(settings, server, create=create)
        try:
            return await use(stores)
        finally:
            await stores.close()

    with exits_on_error(server=server):
        return asyncio.run(go())


def with_stores_by_name(
    db: Path | None, server: str | None, use: Callable[[Stores], Awaitable[T]]
) -> T:
    """`with_stores` for what `noetl hook` and `noetl schedule` manage by name: the local
    database is made when missing, and an unknown or a taken name (NotFoundError,
    ConflictError) is bad input (ConfigError: exit 2), locally and on a server alike."""

    async def by_name(stores: Stores) -> T:
        try:
            return await use(stores)
        except (NotFoundError, ConflictError) as exc:
            raise ConfigError(str(exc)) from None

    return with_stores(db, server, by_name, create=True)


def exit_code(status: str) -> int:
    """The exit code of an execution that ended with `status`."""
    return {"done": EXIT_DONE, "cancelled": EXIT_CANCELLED}.get(status, EXIT_FAILED)


def report_started(outcome: Mapping[str, Any] | str, as_json: bool) -> None:
    """What a start on a server answered: the new execution's id, or (with `--wait`) how it
    ended, exiting with its status's code."""
    if isinstance(outcome, str):
        typer.echo(json.dumps({"execution_id": outcome}) if as_json else outcome)
        return
    summary = ExecutionSummary(**outcome)
    report_outcome(summary, as_json)
    raise typer.Exit(exit_code(summary.status))


def report_outcome(summary: ExecutionSummary, as_json: bool) -> None:
    """How an execution ended: one JSON object, or a status line and the result (or error)."""
    outcome = {
        "execution_id": summary.execution_id,
        "status": summary.status,
        "result": summary.result,
        "error": summary.error if summary.status != "done" else None,
    }
    if as_json:
        typer.echo(json.dumps(outcome, default=str))
        return
    from rich.console import Console  # only for a person reading: `--json` goes without rich

    console = Console()
    style = {"done": "green", "failed": "red"}.get(summary.status, "yellow")
    console.print(
        f"[{style}]{summary.status}[/] execution {summary.execution_id} "
        f"({summary.steps_done} steps done, {summary.steps_failed} failed, "
        f"{summary.steps_skipped} skipped)"
    )
    if summary.status == "done":
        console.print_json(json.dumps(summary.result, default=str))
    elif summary.error:
        message = summary.error.get("message") if isinstance(summary.error, dict) else None
        console.print(f"error: {message or summary.error}", markup=False, highlight=False)


def report_entry(entry: Mapping[str, Any], as_json: bool) -> None:
    """What `catalog register` prints: the entry as JSON, or one line saying what happened."""
    if as_json:
        typer.echo(json.dumps(dict(entry), default=str))
    elif entry.get("created"):
        typer.echo(f"registered {entry['path']} version {entry['version']}")
    else:
        typer.echo(f"unchanged: {entry['path']} version {entry['version']} has the same content")


def dump_json(value: Any) -> None:
    """`value` as indented JSON on stdout."""
    typer.echo(json.dumps(value, indent=2, default=str))
