"""`noetl validate` and `noetl schema`: check playbooks, print the playbook JSON Schema."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import typer

from noetl.dsl.load import check_playbook
from noetl.dsl.schema import playbook_schema
from noetl.errors import Problem

PLAYBOOK_SUFFIXES = (".yaml", ".yml")


@dataclass
class FileReport:
    """What `validate` found in one file."""

    file: str
    problems: list[Problem] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        """True when no problem is an error (warnings allowed)."""
        return not any(p.severity == "error" for p in self.problems)

    def to_dict(self) -> dict[str, object]:
        """JSON-friendly form used by `noetl validate --json`."""
        return {
            "file": self.file,
            "valid": self.valid,
            "problems": [p.to_dict() for p in self.problems],
        }


def validate(
    files: Annotated[
        list[Path],
        typer.Argument(help="Playbook files, or folders whose *.yaml / *.yml files are checked."),
    ],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON report for machines.")
    ] = False,
) -> None:
    """Check playbooks: YAML, DSL shape and cross-references. Exit 1 if any is invalid."""
    reports = [_check(path) for path in _expand(files)]
    if as_json:
        typer.echo(json.dumps([r.to_dict() for r in reports], indent=2))
    else:
        for report in reports:
            if report.valid:
                typer.echo(f"ok {report.file}")
            for problem in report.problems:
                typer.echo(str(problem))
    raise typer.Exit(0 if all(r.valid for r in reports) else 1)


def schema() -> None:
    """Print the JSON Schema of a playbook (for editor autocomplete and validation)."""
    typer.echo(json.dumps(playbook_schema(), indent=2))


def register(app: typer.Typer) -> None:
    """Add `validate` and `schema` to the `noetl` app."""
    app.command("validate")(validate)
    app.command("schema")(schema)


def _expand(paths: list[Path]) -> list[Path]:
    """Files as given; a folder becomes its playbook files, in name order."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix in PLAYBOOK_SUFFIXES)
            out.extend(found or [path])
        else:
            out.append(path)
    return out


def _check(path: Path) -> FileReport:
    if path.is_dir():
        message = f"no playbook files ({', '.join(PLAYBOOK_SUFFIXES)}) in this folder"
        return FileReport(str(path), [Problem(message, file=str(path))])
    _, problems = check_playbook(path)
    return FileReport(str(path), problems)
