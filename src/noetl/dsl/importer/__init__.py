"""Importing playbooks written in NoETL's newer form or in v1 into the canonical v2 DSL.

`import_document` takes a parsed document and the `Locator` of its original text, detects the
form (`forms`), converts it when it is not canonical (`convert`: `v1` first turns v1 into the
newer form, then `document`, `steps`, `tasks`, `rules`, `python` and `graph` turn that into
canonical v2), and returns the canonical document with a `Locator` that still points at the
original file, the notes where the result is an approximation, and a problem for every
construct it refused. A canonical document comes back unchanged, without importing the
conversion modules. The engine only ever sees canonical v2: one engine path, no second
interpreter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from noetl.dsl.check import Locator
from noetl.dsl.importer.forms import Form, detect_form, half_converted
from noetl.errors import Problem

if TYPE_CHECKING:
    from noetl.dsl.importer.context import Note

__all__ = ["FORM_NAMES", "Imported", "import_document"]

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
    # The conversion modules are imported only for a document that needs them: every `noetl run`
    # loads a playbook, nearly always a canonical one (cold start, benchmarks/README.md).
    from noetl.dsl.importer.convert import convert

    return convert(data, where, form, source_dir)
