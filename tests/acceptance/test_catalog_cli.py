"""`noetl catalog register|list|show` and `noetl run PATH [--version N]` (the installed CLI)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

BODY = """\
apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: greet, path: team/greet}
workload: {who: World}
workflow:
  - step: start
    tool: {kind: python, args: {who: "{{ workload.who }}"}, code: "result = 'v1 ' + who"}
"""


@pytest.fixture
def playbook(cli) -> Path:
    path = cli.folder / "greet.yaml"
    path.write_text(BODY)
    return path


def register(cli, file: Path, *extra: str):
    return cli("catalog", "register", str(file), "--db", str(cli.db), *extra)


def test_register_versions_by_content(cli, playbook):
    first = register(cli, playbook)
    assert (first.returncode, first.stdout) == (0, "registered team/greet version 1\n")
    same = register(cli, playbook)
    assert same.returncode == 0
    assert same.stdout == "unchanged: team/greet version 1 has the same content\n"
    playbook.write_text(BODY.replace("'v1 '", "'v2 '"))
    changed = register(cli, playbook, "--json")
    entry = json.loads(changed.stdout)
    assert (entry["path"], entry["version"], entry["created"]) == ("team/greet", 2, True)
    assert entry["name"] == "greet" and len(entry["sha256"]) == 64


def test_path_defaults_to_the_playbook_name(cli):
    file = cli.folder / "nameless.yaml"
    file.write_text(BODY.replace(", path: team/greet", ""))
    done = register(cli, file, "--json")
    assert json.loads(done.stdout)["path"] == "greet"


def test_list_shows_the_latest_version_of_each_path(cli, playbook):
    register(cli, playbook)
    playbook.write_text(BODY.replace("'v1 '", "'v2 '"))
    register(cli, playbook)
    other = cli.folder / "other.yaml"
    other.write_text(BODY.replace("team/greet", "team/another"))
    register(cli, other)
    listed = cli("catalog", "list", "--json", "--db", str(cli.db))
    rows = [(e["path"], e["version"]) for e in json.loads(listed.stdout)]
    assert rows == [("team/another", 1), ("team/greet", 2)]
    table = cli("catalog", "list", "--db", str(cli.db))
    assert table.returncode == 0 and "team/greet" in table.stdout


def test_show_prints_the_yaml_of_a_version(cli, playbook):
    register(cli, playbook)
    v2 = BODY.replace("'v1 '", "'v2 '")
    playbook.write_text(v2)
    register(cli, playbook)
    latest = cli("catalog", "show", "team/greet", "--db", str(cli.db))
    first = cli("catalog", "show", "team/greet", "--version", "1", "--db", str(cli.db))
    assert (latest.returncode, latest.stdout) == (0, v2)
    assert (first.returncode, first.stdout) == (0, BODY)


def test_show_of_an_unknown_path_or_version_names_it(cli, playbook):
    register(cli, playbook)
    unknown = cli("catalog", "show", "team/nope", "--db", str(cli.db))
    assert unknown.returncode == 1
    assert "no playbook at path 'team/nope'" in unknown.stderr
    version = cli("catalog", "show", "team/greet", "--version", "9", "--db", str(cli.db))
    assert version.returncode == 1
    assert "no version 9 of playbook 'team/greet'" in version.stderr


def test_run_accepts_a_catalog_path_and_a_version(cli, playbook):
    register(cli, playbook)
    playbook.write_text(BODY.replace("'v1 '", "'v2 '"))
    register(cli, playbook)
    assert cli.run(Path("team/greet"), "--set", "who=Ada").result == "v2 Ada"
    assert cli.run(Path("team/greet"), "--version", "1").result == "v1 World"


def test_run_of_an_unknown_path_says_neither_file_nor_catalog_has_it(cli, playbook):
    register(cli, playbook)
    done = cli("run", "team/nope", "--db", str(cli.db))
    assert done.returncode == 2
    assert "team/nope: no such playbook file, and catalog has no playbook at path" in done.stderr
    versioned = cli("run", "team/greet", "--version", "5", "--db", str(cli.db))
    assert versioned.returncode == 2
    assert "no version 5 of playbook 'team/greet'" in versioned.stderr


def test_run_without_a_database_does_not_create_one(cli):
    done = cli("run", "team/greet", "--db", str(cli.db))
    assert done.returncode == 2
    assert "no such playbook file" in done.stderr
    assert not cli.db.exists()


def test_an_invalid_playbook_is_not_registered(cli, playbook):
    register(cli, playbook)
    bad = cli.folder / "bad.yaml"
    bad.write_text(BODY.replace("workflow:", "workflows:"))
    done = register(cli, bad)
    assert done.returncode == 2
    assert "bad.yaml" in done.stderr
    listed = cli("catalog", "list", "--json", "--db", str(cli.db))
    assert [e["version"] for e in json.loads(listed.stdout)] == [1]


def test_list_without_a_database_is_an_error(cli):
    done = cli("catalog", "list", "--db", str(cli.db))
    assert done.returncode == 1
    assert "no NoETL database" in done.stderr
    assert not cli.db.exists()
