"""The public Python API: exactly these names, each documented, none imported before use."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import pytest

import noetl

EXPORTS = [
    "AsyncClient",
    "Client",
    "Embedded",
    "NoetlError",
    "Outcome",
    "Playbook",
    "PlaybookError",
    "Problem",
    "__version__",
    "load_playbook",
    "run",
    "run_async",
    "validate",
]
HELLO = Path(__file__).parents[2] / "examples" / "hello.yaml"
BROKEN = (
    "apiVersion: noetl.io/v2\nkind: Playbook\nmetadata: {name: b}\n"
    "workflow:\n  - step: start\n    nxt: end\n"
)


def test_exports_are_exactly_these():
    assert sorted(noetl.__all__) == EXPORTS


@pytest.mark.parametrize("name", [n for n in EXPORTS if n != "__version__"])
def test_every_export_resolves_and_is_documented(name: str):
    value = getattr(noetl, name)
    assert inspect.getdoc(value), f"noetl.{name} has no docstring"
    for member_name, member in inspect.getmembers(value):
        if not member_name.startswith("_") and inspect.isfunction(member):
            assert inspect.getdoc(member), f"noetl.{name}.{member_name} has no docstring"


def test_unknown_names_are_attribute_errors():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = noetl.nope  # type: ignore[attr-defined]


def test_import_noetl_imports_nothing_else_of_noetl():
    probe = "import sys, noetl; print(sorted(m for m in sys.modules if m.startswith('noetl')))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['noetl']"


def test_load_playbook_from_a_file_and_from_text(tmp_path: Path):
    file = tmp_path / "hello.yaml"
    file.write_text(HELLO.read_text())
    for source in (file, str(file), file.read_text()):
        playbook = noetl.load_playbook(source)
        assert (playbook.name, playbook.path) == ("hello", "examples/hello")
    assert noetl.load_playbook(file).file == str(file)
    assert noetl.load_playbook(file.read_text()).file is None


def test_bad_playbooks_name_file_line_and_column(tmp_path: Path):
    file = tmp_path / "broken.yaml"
    file.write_text(BROKEN)
    [problem] = noetl.validate(file)
    assert (problem.file, problem.line, problem.col) == (str(file), 6, 5)
    assert "unknown field 'nxt'" in problem.message
    with pytest.raises(noetl.PlaybookError) as raised:
        noetl.load_playbook(BROKEN)
    assert [p.path for p in raised.value.problems] == ["workflow[0].nxt"]
    [missing] = noetl.validate(tmp_path / "nowhere.yaml")
    assert (missing.file, missing.message) == (str(tmp_path / "nowhere.yaml"), "file not found")
    assert noetl.validate(HELLO) == []


def test_outcome_of_a_summary():
    failed = noetl.Outcome.of(
        {"execution_id": 7, "status": "failed", "result": None, "error": {"message": "boom"}}
    )
    assert (failed.execution_id, failed.ok, failed.error) == ("7", False, {"message": "boom"})
    done = noetl.Outcome.of({"execution_id": "8", "status": "done", "result": 3, "error": {}})
    assert (done.ok, done.result, done.error) == (True, 3, None)
