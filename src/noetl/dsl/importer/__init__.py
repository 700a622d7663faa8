"""Importing playbooks written in NoETL's newer form or in v1 into the canonical v2 DSL.

`import_document` takes a parsed document and the `Locator` of its original text, detects the
form (`forms`), converts it (`v1` first turns v1 into the newer form, then `document`, `steps`,
`tasks`, `rules`, `python` and `graph` turn that into canonical v2), and returns the canonical
document with a `Locator` that still points at the original file, the notes where the result
is an approximation, and a problem for every construct it refused. A canonical document comes
back unchanged. The engine only ever sees canonical v2: one engine path, no second interpreter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from noetl.dsl.check import Locator
from noetl.dsl.importer.context import Conversion, Note
from noetl.dsl.importer.document import convert_document
from noetl.dsl.importer.forms import Form, detect_form, half_converted
from noetl.dsl.importer.origins import TracedLocator
from noetl.dsl.importer.v1 import convert_v1
from noetl.errors import Problem

__all__ = ["FORM_NAMES", "Imported", "Note", "import_document"]

FORM_NAMES: dict[Form, str] = {
    "canonical": "canonical v2",
    "noetl": "the NoETL form",
    "v1": "NoETL v1",
}


@dataclass
class Imported:
    """The outcome of importing one document."""

    data: Any  # the canonical document (the input itself when it was canonical)
    where: Locator  # positions in the original text, for the canonical document's paths
    form: Form
    notes: list[Note] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def converted(self) -> bool:
        """True when the document was not canonical v2."""
        return self.form != "canonical"

    def notice(self) -> str:
        """The one line that says a playbook was imported on load."""
        where = self.where.file or "<playbook>"
        return (
            f"{where}: notice: imported from {FORM_NAMES[self.form]} "
            f"({len(self.notes)} approximation(s)); `noetl import` writes the canonical file"
        )


def import_document(data: Any, where: Locator, *, source_dir: Path | None = None) -> Imported:
    """Detect the form of `data` and convert it to canonical v2 (see the module docstring)."""
    half = half_converted(data)
    if half:
        problems = [
            where.problem(
                f"half-converted step: {m.what}; write the step in one form "
                "(`noetl import` converts a whole file)",
                m.path,
                key=True,
            )
            for m in half
        ]
        return Imported(data, where, "v1", [], problems)
    form, _ = detect_form(data)
    if form == "canonical":
        return Imported(data, where, form)
    if source_dir is None and where.file and not where.file.startswith("catalog:"):
        source_dir = Path(where.file).parent
    original = where
    if form == "v1":
        first = Conversion(source_dir=source_dir)
        data = convert_v1(data, first)
        where = _traced(where, first)
        if first.refusals:
            return Imported(data, where, form, first.notes, _problems(original, first))
    conv = Conversion(source_dir=source_dir)
    out = convert_document(data, conv)
    return Imported(out, _traced(where, conv), form, conv.notes, _problems(where, conv))


def _traced(where: Locator, conv: Conversion) -> TracedLocator:
    return TracedLocator(where, conv.origins)


def _problems(where: Locator, conv: Conversion) -> list[Problem]:
    """Refusals are recorded at the paths of the document `conv` read; `where` locates it."""
    return [where.problem(r.message, r.path, key=r.key) for r in conv.refusals]
