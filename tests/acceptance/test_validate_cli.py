"""`noetl validate` and `noetl schema` through the installed console script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

NOETL = str(Path(sys.executable).with_name("noetl"))
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

HEAD = "apiVersion: noetl.io/v2\nkind: Playbook\nmetadata: {name: t}\n"
BAD = HEAD + "vars: {a: 1}\nworkflow:\n  - step: a\n    nxt: a\n"
WARNS = HEAD + "workflow:\n  - step: start\n  - step: orphan\n"
SEMANTIC = HEAD + "workflow:\n  - step: a\n    next: [b]\n"


def noetl(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([NOETL, *args], capture_output=True, text=True, cwd=cwd, timeout=60)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def test_all_examples_are_valid():
    files = sorted(EXAMPLES.glob("*.yaml"))
    out = noetl("validate", *map(str, files))
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.splitlines() == [f"ok {f}" for f in files]


def test_a_folder_validates_its_playbooks():
    out = noetl("validate", "examples", cwd=EXAMPLES.parent)
    assert out.returncode == 0, out.stdout
    assert "ok examples/hello.yaml" in out.stdout.splitlines()


def test_invalid_playbook_exits_1_with_one_line_per_problem(tmp_path):
    bad = write(tmp_path, "bad.yaml", BAD)
    out = noetl("validate", str(bad))
    assert out.returncode == 1
    assert out.stdout.splitlines() == [
        f"{bad}:4:1: root 'vars' is not allowed; use workload, ctx (set_ctx) or step vars (vars)",
        f"{bad}:7:5: unknown field 'nxt'; did you mean 'next'? (workflow[0].nxt)",
    ]
    assert "Traceback" not in out.stderr


def test_semantic_problem_line(tmp_path):
    bad = write(tmp_path, "semantic.yaml", SEMANTIC)
    out = noetl("validate", str(bad))
    assert out.returncode == 1
    assert out.stdout.strip() == f"{bad}:6:12: next: unknown step 'b' (workflow[0].next[0])"


def test_warnings_are_printed_but_do_not_fail(tmp_path):
    warns = write(tmp_path, "warns.yaml", WARNS)
    out = noetl("validate", str(warns))
    assert out.returncode == 0
    assert out.stdout.splitlines() == [
        f"ok {warns}",
        f"{warns}:6:11: warning: step 'orphan' can never be reached from the entry step "
        "'start' (workflow[1].step)",
    ]


def test_one_bad_file_among_good_ones_fails_the_run(tmp_path):
    bad = write(tmp_path, "bad.yaml", BAD)
    hello = EXAMPLES / "hello.yaml"
    out = noetl("validate", str(hello), str(bad))
    assert out.returncode == 1
    assert out.stdout.splitlines()[0] == f"ok {hello}"


def test_missing_file_is_a_clear_error(tmp_path):
    missing = tmp_path / "nope.yaml"
    out = noetl("validate", str(missing))
    assert out.returncode == 1
    assert out.stdout.strip() == f"{missing}: file not found"
    assert "Traceback" not in out.stderr


def test_yaml_syntax_error(tmp_path):
    broken = write(tmp_path, "broken.yaml", HEAD + "workflow: [a, b\n")
    out = noetl("validate", str(broken))
    assert out.returncode == 1
    assert out.stdout.startswith(f"{broken}:5:1: invalid YAML:")


def test_json_report(tmp_path):
    bad = write(tmp_path, "bad.yaml", BAD)
    warns = write(tmp_path, "warns.yaml", WARNS)
    out = noetl("validate", "--json", str(bad), str(warns))
    assert out.returncode == 1
    report = json.loads(out.stdout)
    assert [(r["file"], r["valid"]) for r in report] == [(str(bad), False), (str(warns), True)]
    assert report[0]["problems"][1] == {
        "file": str(bad),
        "line": 7,
        "col": 5,
        "path": "workflow[0].nxt",
        "message": "unknown field 'nxt'; did you mean 'next'?",
        "severity": "error",
    }
    assert report[1]["problems"][0]["severity"] == "warning"


def test_json_report_all_valid():
    out = noetl("validate", "--json", str(EXAMPLES / "hello.yaml"))
    assert out.returncode == 0
    assert json.loads(out.stdout) == [
        {"file": str(EXAMPLES / "hello.yaml"), "valid": True, "problems": []}
    ]


def test_schema_prints_a_json_schema():
    out = noetl("schema")
    assert out.returncode == 0
    schema = json.loads(out.stdout)
    assert schema["$schema"].endswith("/draft/2020-12/schema")
    assert set(schema["properties"]) == {
        "apiVersion",
        "kind",
        "metadata",
        "executor",
        "workload",
        "workbook",
        "workflow",
    }
    assert schema["additionalProperties"] is False


def test_validate_refuses_the_workload_values_a_run_refuses(tmp_path):
    deep = "x"
    for _ in range(101):
        deep = f"[{deep}]"
    cases = {
        "nan.yaml": ("workload:\n  a: {b: [1, .nan]}\n", "5:14", "nan is not a JSON number"),
        "inf.yaml": ("workload:\n  c: -.inf\n", "5:6", "-inf is not a JSON number"),
        "deep.yaml": (f"workload:\n  d: {deep}\n", "5:105", "nested deeper than 100 levels"),
    }
    for name, (workload, place, why) in cases.items():
        path = write(tmp_path, name, HEAD + workload + "workflow:\n  - step: start\n")
        checked = noetl("validate", str(path))
        assert checked.returncode == 1, checked.stdout
        assert checked.stdout.startswith(f"{path}:{place}: {why}: an execution cannot start")
        ran = noetl("run", str(path))  # the run refuses the same value, saying the same
        assert ran.returncode == 2 and why in ran.stderr + ran.stdout
