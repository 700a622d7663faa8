"""Golden conversions: each `*.input.yaml` under `import_golden/` imports to exactly its
`*.expected.yaml` (canonical v2, with the importer's comments), which validates and imports
unchanged. Re-record after an intended change with `NOETL_RECORD_IMPORT=1 pytest this_file`
and review the diff."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from noetl.dsl.importer.emit import leading_comments, to_yaml
from noetl.dsl.load import check_playbook, import_text

FOLDER = Path(__file__).with_name("import_golden")
INPUTS = sorted(FOLDER.glob("*.input.yaml"))


def canonical_text(source: Path) -> str:
    text = source.read_text()
    imported, problems = import_text(text, source.name)
    assert imported is not None, problems
    if not imported.converted:
        return text
    return to_yaml(imported.data, imported.notes, header=leading_comments(text))


@pytest.mark.parametrize("source", INPUTS, ids=[p.name for p in INPUTS])
def test_golden_conversion(source: Path):
    expected_file = source.with_name(source.name.replace(".input.", ".expected."))
    produced = canonical_text(source)
    if os.environ.get("NOETL_RECORD_IMPORT"):
        expected_file.write_text(produced)
    assert produced == expected_file.read_text()
    playbook, problems = check_playbook(expected_file)
    assert playbook is not None, [str(p) for p in problems]
    assert not any(p.severity == "notice" for p in problems)  # canonical: nothing to import
    assert canonical_text(expected_file) == produced


def test_golden_inputs_cover_each_form():
    names = [p.name for p in INPUTS]
    assert any(n.startswith("v1_") for n in names)
    assert any(n.startswith("noetl_canonical") for n in names)
    assert len(names) >= 5
