"""`noetl run` given bad input: exit code 2, a message saying what and where, nothing written."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

GOOD = """
workload: {n: 1}
workflow:
  - step: start
    tool: {kind: python, args: {n: "{{ workload.n }}"}, code: "result = n"}
"""
INVALID = """
workflow:
  - step: start
    nxt: start
"""


@pytest.fixture(scope="module")
def calls(module_cli):
    """Every bad-input run of this module, each with its own database, all at once."""
    good = module_cli.write("good", GOOD)
    invalid = module_cli.write("invalid", INVALID)
    yaml_payload = module_cli.folder / "payload.yaml"
    yaml_payload.write_text("n: 41\n")
    not_utf8 = module_cli.folder / "latin1.yaml"
    not_utf8.write_bytes("metadata: {name: caf\u00e9}\n".encode("latin-1"))
    deep_payload = module_cli.folder / "deep.json"
    deep_payload.write_text('{"n": ' + "[" * 200 + "]" * 200 + "}")
    unparsable_payload = module_cli.folder / "very-deep.json"
    unparsable_payload.write_text("[" * 100_000 + "]" * 100_000)

    def run(name: str, *args: str) -> list[str]:
        return ["run", *args, "--json", "--db", str(module_cli.folder / f"{name}.db")]

    return module_cli.call_many(
        {
            "invalid_playbook": run("invalid_playbook", str(invalid)),
            "missing_file": run("missing_file", str(module_cli.folder / "nowhere.yaml")),
            "set_without_equals": run("set_without_equals", str(good), "--set", "n"),
            "set_without_key": run("set_without_key", str(good), "--set", "=3"),
            "payload_not_json": run("payload_not_json", str(good), "--payload", "{n: 1"),
            "payload_not_object": run("payload_not_object", str(good), "--payload", "[1]"),
            "payload_missing_file": run(
                "payload_missing_file", str(good), "--payload", "@/nonexistent/p.json"
            ),
            "resume_with_file": run("resume_with_file", str(good), "--resume", "1"),
            "no_file": run("no_file"),
            "not_utf8": run("not_utf8", str(not_utf8)),
            "payload_too_deep": run("payload_too_deep", str(good), "--payload", f"@{deep_payload}"),
            "payload_unparsable": run(
                "payload_unparsable", str(good), "--payload", f"@{unparsable_payload}"
            ),
            "payload_infinity": run("payload_infinity", str(good), "--payload", '{"n": 1e999}'),
            "payload_nul": run("payload_nul", str(good), "--payload", '{"n": "a\\u0000b"}'),
            "payload_yaml_file": run(
                "payload_yaml_file", str(good), "--payload", f"@{yaml_payload}"
            ),
        }
    )


BAD = [
    "invalid_playbook",
    "missing_file",
    "set_without_equals",
    "set_without_key",
    "payload_not_json",
    "payload_not_object",
    "payload_missing_file",
    "resume_with_file",
    "no_file",
    "not_utf8",
    "payload_too_deep",
    "payload_unparsable",
    "payload_infinity",
    "payload_nul",
]


@pytest.fixture(scope="module")
def listed(calls, module_cli):
    """`noetl executions list --json` of every bad run's database (None: no file)."""
    with ThreadPoolExecutor(4) as pool:
        rows = pool.map(lambda name: module_cli.executions(module_cli.folder / f"{name}.db"), BAD)
        return dict(zip(BAD, rows, strict=True))


@pytest.mark.parametrize("name", BAD)
def test_bad_input_exits_2_and_writes_nothing(calls, listed, name):
    done = calls[name]
    assert done.returncode == 2, done.stdout + done.stderr
    outcome = json.loads(done.stdout)  # --json: one object on stdout, saying nothing ran
    assert (outcome["execution_id"], outcome["status"], outcome["result"]) == (
        None,
        "invalid",
        None,
    )
    assert outcome["error"]["kind"] in ("invalid_playbook", "invalid_input", "not_found")
    assert done.stderr.strip() and "Traceback" not in done.stderr
    assert listed[name] in (None, [])


def test_invalid_playbook_names_file_line_and_column(calls, module_cli):
    path = Path(module_cli.folder / "invalid.yaml")
    line = f"{path}:7:5: unknown field 'nxt'; did you mean 'next'? (workflow[0].nxt)"
    assert line in calls["invalid_playbook"].stderr.splitlines()


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("missing_file", "nowhere.yaml"),
        ("set_without_equals", "--set 'n'"),
        ("set_without_key", "--set '=3'"),
        ("payload_not_json", "--payload"),
        ("payload_not_object", "must be a JSON object"),
        ("payload_missing_file", "/nonexistent/p.json"),
        ("resume_with_file", "--resume"),
        ("not_utf8", "latin1.yaml: file is not UTF-8 text"),
        ("payload_too_deep", "payload.n[0][0]"),
        ("payload_too_deep", "nested deeper than 100 levels"),
        ("payload_unparsable", "very-deep.json: nested too deeply"),
        ("payload_infinity", "payload.n: inf is not a JSON number"),
        ("payload_nul", "payload.n: holds a NUL character"),
    ],
)
def test_message_says_what_was_wrong(calls, name, says):
    assert says in calls[name].stderr


def test_payload_from_a_yaml_file(calls):
    done = calls["payload_yaml_file"]
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["result"] == 41
