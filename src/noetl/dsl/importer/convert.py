"""Converting a document that is not canonical v2 (v1 or the NoETL form) into canonical v2.

`noetl.dsl.importer.import_document` detects the form and calls `convert` for any other form
than canonical; the conversion modules load only then.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from noetl.dsl.check import Locator
from noetl.dsl.importer import Imported
from noetl.dsl.importer.context import Conversion
from noetl.dsl.importer.document import convert_document
from noetl.dsl.importer.forms import Form
from noetl.dsl.importer.origins import TracedLocator
from noetl.dsl.importer.v1 import convert_v1
from noetl.errors import Problem


def convert(data: Any, where: Locator, form: Form, source_dir: Path | None) -> Imported:
    """`data`, of `form` (not canonical), converted to canonical v2 with positions still in the
    original text, its notes, and a problem for every construct refused."""
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
