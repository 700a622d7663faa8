"""Where a playbook comes from: a file, or a path (and version) in a catalog.

One rule for the CLI (`run`, `execute`), the server's `POST /executions` and the `playbook`
tool: with no version, a target naming an existing file (relative to the parent playbook's
folder when there is one) is that file; anything else is a catalog path. A playbook that came
from a catalog has no folder, so the targets it names are catalog paths.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from noetl.dsl.load import load_playbook
from noetl.engine.definition import PlaybookDef
from noetl.errors import NotFoundError, PlaybookError, Problem

CATALOG_PREFIX = "catalog:"  # the `file` of a playbook loaded from a catalog: `catalog:PATH@vN`


class CatalogEntryLike(Protocol):
    """What a catalog lookup answers (`noetl.store.catalog.CatalogEntry`)."""

    @property
    def path(self) -> str:
        """The catalog path."""
        ...

    @property
    def version(self) -> int:
        """The version number."""
        ...

    @property
    def source(self) -> str:
        """The playbook's YAML."""
        ...


class CatalogLookup(Protocol):
    """The read side of a catalog (`noetl.store.catalog.CatalogStore`, or a server's)."""

    async def get(self, path: str, version: int | None = None) -> CatalogEntryLike:
        """One version (the latest when `version` is None); NotFoundError when absent."""
        ...


@dataclass(frozen=True)
class Located:
    """A playbook target resolved: the file to read, or the catalog path and version."""

    target: str  # as written by the person or the parent playbook
    file: Path | None  # the playbook file; None: look `target` up in a catalog
    version: int | None = None  # catalog version; None: the latest
    looked_for_a_file: bool = False  # the target could have been a file, and is not
    folder: bool = False  # ... and is a folder

    def not_found(self, reason: str) -> str:
        """The message for a target neither a file nor in the catalog, `reason` saying why."""
        if self.folder and self.version is None:
            return f"{self.target}: a folder, not a playbook file, and {reason}"
        if self.looked_for_a_file and self.version is None:
            return f"{self.target}: no such playbook file, and {reason}"
        return f"{self.target}: {reason}"


def locate(target: str, version: int | None = None, *, base_file: str | None = None) -> Located:
    """Resolve `target` by the one rule (see the module docstring); reads nothing but the
    file system's answer to "is this a file (or a folder)?"."""
    if base_file is not None and base_file.startswith(CATALOG_PREFIX):
        return Located(target, None, version)
    candidate = Path(target)
    if not candidate.is_absolute() and base_file is not None:
        candidate = Path(base_file).parent / candidate
    if version is None and candidate.is_file():
        return Located(target, candidate)
    looked = version is None
    return Located(target, None, version, looked, folder=looked and candidate.is_dir())


def in_catalog(path: str, version: int | None = None) -> Located:
    """A target that is a catalog path whatever the file system holds (the server's requests)."""
    return Located(path, None, version)


def catalog_file(path: str, version: int) -> str:
    """The `file` of a playbook loaded from the catalog, as problems and events name it."""
    return f"{CATALOG_PREFIX}{path}@v{version}"


async def load_located(located: Located, catalog: CatalogLookup | None) -> tuple[PlaybookDef, str]:
    """The playbook and its YAML: read from the file, or looked up in `catalog`.

    NotFoundError naming the target when the catalog does not hold it (or there is no catalog);
    PlaybookError with file:line:col problems when it is not a valid playbook (or not UTF-8
    text); OSError when the file cannot be read.
    """
    if located.file is not None:
        try:
            source = located.file.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            problem = Problem("file is not UTF-8 text", file=str(located.file))
            raise PlaybookError([problem]) from None
        playbook = load_playbook(source, file=str(located.file), scripts_from=located.file.parent)
        return playbook, source
    if catalog is None:
        raise NotFoundError(located.not_found("no catalog to look it up in"))
    try:
        entry = await catalog.get(located.target, located.version)
    except NotFoundError as exc:
        raise NotFoundError(located.not_found(str(exc))) from None
    file = catalog_file(entry.path, entry.version)
    return load_playbook(entry.source, file=file), entry.source
