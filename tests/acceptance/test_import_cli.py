"""`noetl import`: canonical files out of NoETL-form ones, `--check`, refusals, and the notice
line the other commands print for a playbook converted on load."""

from __future__ import annotations

from pathlib import Path

NOETL_FORM = """\
# a NoETL-form playbook
apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: nf, path: t/nf}
workload: {who: world}
workflow:
  - step: start
    tool: {kind: python, input: {who: "{{ who }}"}, code: "result = 'hi ' + who"}
    next: {spec: {mode: exclusive}, arcs: [{step: end}]}
  - step: end
"""
CANONICAL = """\
apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: c}
workflow:
  - step: start
"""


def test_import_writes_a_canonical_file_that_runs_the_same(cli, tmp_path: Path):
    source = tmp_path / "in" / "nf.yaml"
    source.parent.mkdir()
    source.write_text(NOETL_FORM)
    (source.parent / "c.yaml").write_text(CANONICAL)
    done = cli("import", str(source.parent), "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    written = (tmp_path / "out" / "nf.yaml").read_text()
    assert written.startswith("# a NoETL-form playbook\n")
    assert "args:\n        who: '{{ workload.who }}'" in written
    assert (tmp_path / "out" / "c.yaml").read_text() == CANONICAL  # canonical: unchanged
    check = cli("import", str(tmp_path / "out"), "--check")
    assert check.returncode == 0 and "unchanged" in check.stdout
    assert cli.run(tmp_path / "out" / "nf.yaml").result == "hi world"
    assert cli.run(source).result == "hi world"


def test_check_reports_what_would_change_and_exits_1(cli, tmp_path: Path):
    source = tmp_path / "nf.yaml"
    source.write_text(NOETL_FORM)
    done = cli("import", str(source), "--check")
    assert done.returncode == 1
    assert done.stdout.startswith(f"would convert {source} (from the NoETL form;")
    assert source.read_text() == NOETL_FORM


def test_a_refused_construct_is_named_at_its_place(cli, tmp_path: Path):
    source = tmp_path / "bad.yaml"
    # A cursor loop converts only with its claim query: without one it is refused, by name.
    cursor = "  - step: end\n    loop: {cursor: {}}\n"
    source.write_text(NOETL_FORM.replace("  - step: end\n", cursor))
    done = cli("import", str(source))
    assert done.returncode == 1 and done.stdout == ""
    expected = f"{source}:11:12: a 'loop.cursor' needs a 'claim' query (SQL text)"
    assert expected in done.stderr and "(workflow[1].loop.cursor)" in done.stderr


def test_an_empty_or_invalid_canonical_file_is_refused_not_copied(cli, tmp_path: Path):
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing but a comment\n")
    for text in ("", "\n\n", "# nothing but a comment\n"):
        empty.write_text(text)
        done = cli("import", str(empty))
        assert done.returncode == 1 and done.stdout == ""
        assert done.stderr.startswith(f"{empty}:1:1: nothing to load: the file is empty")
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "empty.yaml").write_text("")
    converted = cli("import", str(folder), "--out", str(tmp_path / "converted"))
    assert converted.returncode == 1 and "empty.yaml:1:1: nothing to load" in converted.stderr
    assert not (tmp_path / "converted" / "empty.yaml").exists()
    broken = tmp_path / "broken.yaml"  # canonical in form, but `next` names no step
    broken.write_text(CANONICAL + "    next: [{step: nowhere}]\n")
    out = tmp_path / "out"
    refused = cli("import", str(broken), "--out", str(out))
    assert refused.returncode == 1
    assert "nowhere" in refused.stderr and "broken.yaml:" in refused.stderr
    assert not (out / "broken.yaml").exists()


def test_a_folder_needs_out_and_a_missing_file_is_named(cli, tmp_path: Path):
    (tmp_path / "c.yaml").write_text(CANONICAL)
    folder = cli("import", str(tmp_path))
    assert folder.returncode == 1 and "needs --out" in folder.stderr
    missing = cli("import", str(tmp_path / "nope.yaml"))
    assert missing.returncode == 1 and "nope.yaml: file not found" in missing.stderr


def test_validate_prints_one_notice_for_a_converted_playbook(cli, tmp_path: Path):
    source = tmp_path / "nf.yaml"
    source.write_text(NOETL_FORM)
    done = cli("validate", str(source))
    assert done.returncode == 0
    notices = [line for line in done.stdout.splitlines() if "notice:" in line]
    assert notices == [
        f"{source}:1:1: notice: imported from the NoETL form (0 approximation(s)); "
        "`noetl import` writes the canonical file"
    ]
