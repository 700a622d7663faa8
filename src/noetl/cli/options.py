"""The options several commands share, defined once so that each reads and helps the same way
everywhere: `--db` (the local SQLite file), `--json` (of the listing commands, and of those
that report how an execution ended), `--workers` (in this process), the payload options `--set`
and `--payload` (read by `terminal.merged_payload`), and the `--log-level` and `--log-format` of
the long-running commands (applied by `setup_logging`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from noetl.config import Settings
from noetl.errors import ConfigError
from noetl.observe import logsetup

DbOption = Annotated[
    Path | None, typer.Option("--db", help="SQLite file of the local store (event log included).")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
OutcomeJsonOption = Annotated[
    bool, typer.Option("--json", help="Print exactly one JSON object with the outcome.")
]
WorkersOption = Annotated[
    int | None,
    typer.Option("--workers", min=1, help="Concurrent workers in this process (default 4)."),
]
SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", help="Payload value key=value (dotted keys nest). Repeatable."),
]
PayloadOption = Annotated[
    str | None, typer.Option("--payload", help="Payload as JSON, or @file (JSON/YAML).")
]
LogLevelOption = Annotated[
    str | None,
    typer.Option(
        "--log-level", help="debug|info|warning|error|critical (default NOETL_LOG_LEVEL, warning)."
    ),
]
LogFormatOption = Annotated[
    str | None,
    typer.Option(
        "--log-format", help="text|json, one object per line (default NOETL_LOG_FORMAT, text)."
    ),
]


def setup_logging(settings: Settings) -> None:
    """Configure logging from the settings; a bad level or format exits 2 naming the option."""
    try:
        logsetup.configure(settings.log_level, settings.log_format)
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
