"""`noetl import`: convert playbooks in NoETL's newer form or v1 into canonical v2 files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from noetl.dsl.importer import FORM_NAMES
from noetl.dsl.importer.emit import leading_comments, to_yaml
from noetl.dsl.load import check_playbook, import_text

PLAYBOOK_SUFFIXES = (".yaml", ".yml")


def import_playbooks(
    source: Annotated[Path, typer.Argument(help="A playbook file, or a folder of them.")],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write the canonical files into this folder (same names)."),
    ] = None,
    check: Annotated[
        bool,
        typer.Option("--check", help="Only report what would change; exit 1 if anything would."),
    ] = False,
) -> None:
    """Write canonical v2 YAML for playbooks in NoETL's newer form or v1.

    Without --out a single file is printed; a folder needs --out. A valid canonical file is
    copied unchanged. A construct that cannot be converted, or a file that is not a valid
    playbook once converted (an empty one too), is reported at FILE:LINE:COL (exit 1).
    """
    files = _playbook_files(source)
    if out is None and not check and (source.is_dir() or len(files) != 1):
        _fail("importing a folder needs --out DIR")
    failed = changed = False
    for file in files:
        text = _read(file)
        imported, problems = import_text(text, str(file), scripts_from=file.parent)
        if imported is None:
            failed = True
            for problem in problems:
                typer.echo(str(problem), err=True)
            continue
        # A file taken as canonical is checked too: an empty or invalid one is not a
        # playbook to copy (it would fail only later, at `run`).
        _, checked = check_playbook(file)
        errors = [p for p in checked if p.severity == "error"]
        if errors:
            failed = True
            for problem in errors:
                typer.echo(str(problem), err=True)
            continue
        changed = changed or imported.converted
        if check:
            _report(file, imported.converted, FORM_NAMES[imported.form], len(imported.notes))
            continue
        canonical = text
        if imported.converted:
            canonical = to_yaml(imported.data, imported.notes, header=leading_comments(text))
        _write(file, canonical, out, source)
    raise typer.Exit(1 if failed or (check and changed) else 0)


def register(app: typer.Typer) -> None:
    """Add `import` to the `noetl` app."""
    app.command("import")(import_playbooks)


def _playbook_files(source: Path) -> list[Path]:
    if source.is_dir():
        files = sorted(p for p in source.rglob("*") if p.suffix in PLAYBOOK_SUFFIXES)
        if not files:
            _fail(f"{source}: no playbook files ({', '.join(PLAYBOOK_SUFFIXES)}) in this folder")
        return files
    if not source.is_file():
        _fail(f"{source}: file not found")
    return [source]


def _read(file: Path) -> str:
    try:
        return file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        _fail(f"{file}: cannot read: {err}")
        raise  # unreachable: _fail exits


def _report(file: Path, converted: bool, form: str, notes: int) -> None:
    if converted:
        typer.echo(f"would convert {file} (from {form}; {notes} approximation(s))")
    else:
        typer.echo(f"unchanged {file} (already canonical v2)")


def _write(file: Path, text: str, out: Path | None, source: Path) -> None:
    if out is None:
        typer.echo(text, nl=False)
        return
    relative = file.relative_to(source) if source.is_dir() else Path(file.name)
    target = out / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {target}", err=True)


def _fail(message: str) -> None:
    typer.echo(message, err=True)
    raise typer.Exit(1)
