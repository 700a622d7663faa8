"""Playbooks from Python: `noetl.load_playbook` and `noetl.validate`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from noetl.dsl.load import check_playbook
from noetl.dsl.load import load_playbook as load_definition
from noetl.engine.definition import PlaybookDef
from noetl.errors import PlaybookError, Problem

PlaybookSource = str | Path  # a file (a Path, or a string without a newline), or YAML text


@dataclass(frozen=True)
class Playbook:
    """A valid playbook: the engine's definition and the YAML it was loaded from."""

    definition: PlaybookDef
    source: str  # the YAML text, exactly as read

    @property
    def name(self) -> str:
        """`metadata.name`."""
        return self.definition.name

    @property
    def path(self) -> str:
        """The catalog path it registers under: `metadata.path`, else its name."""
        return self.definition.path or self.definition.name

    @property
    def file(self) -> str | None:
        """The file it was read from (None for YAML text)."""
        return self.definition.source_file


Target = (
    Playbook | PlaybookSource
)  # what runs: a loaded playbook, a file, YAML text, a catalog path


def is_text(source: PlaybookSource) -> bool:
    """True when `source` is YAML text rather than the name of a file: a string with a newline."""
    return isinstance(source, str) and "\n" in source


def load_playbook(source: PlaybookSource) -> Playbook:
    """Load and check a playbook from a file (a `Path`, or a path string) or YAML text (a string
    with a newline).

    Raises `noetl.PlaybookError` whose `problems` say what is wrong where (file:line:col and the
    document path); warnings do not raise (see `validate`).
    """
    text, file = _read(source)
    return Playbook(load_definition(text, file=file, scripts_from=_folder(file)), text)


def as_playbook(playbook: Playbook | PlaybookSource) -> Playbook:
    """`playbook` itself when it is loaded already, else `load_playbook(playbook)`."""
    return playbook if isinstance(playbook, Playbook) else load_playbook(playbook)


def validate(source: PlaybookSource) -> list[Problem]:
    """Every problem of a playbook (errors and warnings), in document order; empty when clean.

    Takes what `load_playbook` takes; a file that cannot be read is one problem, not an error.
    """
    try:
        text, file = _read(source)
    except PlaybookError as exc:
        return list(exc.problems)
    return check_playbook(text, file=file, scripts_from=_folder(file))[1]


def _folder(file: str | None) -> Path | None:
    """Where a playbook read from a file finds its `script` files (text has none)."""
    return None if file is None else Path(file).parent


def _read(source: PlaybookSource) -> tuple[str, str | None]:
    if is_text(source):
        return str(source), None
    path = Path(source)
    try:
        return path.read_text(encoding="utf-8"), str(path)
    except FileNotFoundError:
        problem = Problem("file not found", file=str(path))
    except UnicodeDecodeError:
        problem = Problem("file is not UTF-8 text", file=str(path))
    except OSError as exc:
        problem = Problem(f"cannot read file: {exc.strerror}", file=str(path))
    raise PlaybookError(problems=[problem])
