"""What one conversion accumulates: where nodes came from, notes for the reader, refusals."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from noetl.dsl.check import DocPath
from noetl.dsl.importer.origins import Origins


@dataclass(frozen=True)
class Note:
    """A place in the converted document where the conversion is not word for word."""

    path: DocPath  # in the converted document
    message: str


@dataclass(frozen=True)
class Refusal:
    """A construct that cannot be converted, at its place in the original document."""

    path: DocPath  # in the original document
    message: str
    key: bool = True  # point at the key (the construct's name) rather than its value


@dataclass
class Conversion:
    """Shared state of one document's conversion."""

    workload_keys: frozenset[str] = frozenset()
    steps: frozenset[str] = frozenset()
    loop_steps: frozenset[str] = frozenset()
    sql_steps: frozenset[str] = frozenset()  # steps whose result is a database result
    predecessors: Mapping[str, frozenset[str]] = field(default_factory=dict)
    source_dir: Path | None = None
    workload: Mapping[str, Any] = field(default_factory=dict)
    origins: Origins = field(default_factory=Origins)
    notes: list[Note] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)

    def note(self, path: DocPath, message: str) -> None:
        """Record that the node at `path` (converted document) is an approximation."""
        self.notes.append(Note(path, message))

    def refuse(self, path: DocPath, message: str, *, key: bool = True) -> None:
        """Record that the construct at `path` (original document) cannot be converted."""
        self.refusals.append(Refusal(path, message, key))

    def shift(self, pipeline: DocPath, by: int, label: str | None = None) -> None:
        """The tasks of the pipeline at `pipeline` moved `by` places down (a single task that
        became the pipeline's entry `label`): move the notes and origins recorded under it."""

        def moved(path: DocPath) -> DocPath:
            if path[: len(pipeline)] != pipeline or len(path) == len(pipeline):
                return path
            rest = path[len(pipeline) :]
            if label is not None:
                return (*pipeline, by, label, *rest)
            index = rest[0]
            return (*pipeline, index + by, *rest[1:]) if isinstance(index, int) else path

        self.notes = [Note(moved(n.path), n.message) for n in self.notes]
        self.origins.paths = {moved(new): old for new, old in self.origins.paths.items()}

    def place(self, new: DocPath, old: DocPath) -> None:
        """Record that the node at `new` came from `old`."""
        self.origins.place(new, old)
