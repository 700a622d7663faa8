"""The `--log-level` and `--log-format` options every long-running command shares."""

from __future__ import annotations

from typing import Annotated

import typer

from noetl.config import Settings
from noetl.errors import ConfigError
from noetl.observe import logsetup

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
