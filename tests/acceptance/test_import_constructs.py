"""NoETL constructs found across the real playbooks (the e2e fixtures and NoETL's own) that the
importer now converts: each small fixture of `tests/fixtures/noetl_e2e/constructs/` runs in
the embedded mode from another working directory, or converts to the expected canonical YAML."""

from __future__ import annotations

from pathlib import Path

import yaml

CONSTRUCTS = Path(__file__).resolve().parents[1] / "fixtures" / "noetl_e2e" / "constructs"
RUNS = {
    "job_execution_id": "parent",
    "playbook_payload": "hi ada",
    "workbook_spec_input": 42,
    "script_from_repository_root": 42,
    "output_of_previous_task": 40,
}


def test_the_converted_constructs_run_as_noetl_runs_them(cli):
    outcomes = cli.run_many({name: (CONSTRUCTS / f"{name}.yaml", ()) for name in RUNS})
    for name, expected in RUNS.items():
        if name == "job_execution_id":
            result = outcomes[name].result
            assert result == {"parent": outcomes[name].execution_id, "same": True}
        else:
            assert outcomes[name].result == expected, name


def test_retry_on_retries_only_the_error_kinds_it_names(cli):
    outcome = cli.run(CONSTRUCTS / "retry_on_python_error.yaml")
    assert outcome.error["kind"] == "python"
    attempts = [e for e in cli.events(outcome) if e["type"] == "task.failed"]
    assert len(attempts) == 1  # a python error is not a timeout: no retry


def _imported(cli, name: str) -> dict:
    done = cli("import", str(CONSTRUCTS / f"{name}.yaml"))
    assert done.returncode == 0, done.stderr
    converted = yaml.safe_load(done.stdout)
    assert isinstance(converted, dict)
    return converted


def test_the_conversions_are_written_as_canonical_fields(cli):
    http = _imported(cli, "http_timeout_seconds")["workflow"][0]["tool"]
    assert http["timeout"] == 2 and "timeout_seconds" not in http
    child = _imported(cli, "playbook_payload")["workflow"][0]["tool"]
    assert child["args"] == {"who": "ada"} and "payload" not in child
    [rule] = child["eval"]
    assert rule["expr"] == (
        "{{ outcome.status == 'error' and outcome.error.kind in ['timeout', 'connection'] }}"
    )
    assert (rule["do"], rule["attempts"], rule["delay"]) == ("retry", 2, 5)
    job = _imported(cli, "job_execution_id")["workflow"][0]["tool"]["args"]
    assert job == {"parent_execution_id": "{{ execution_id }}", "also": "{{ execution_id }}"}
    task = _imported(cli, "output_of_previous_task")["workflow"][0]["tool"][1]["scale"]
    assert task["args"] == {"fetched": "{{ _prev }}"}
    assert task["eval"] == [{"else": {"do": "continue"}}]


def test_a_retry_on_name_without_counterpart_is_refused_at_its_place(cli, tmp_path):
    source = (CONSTRUCTS / "retry_on_python_error.yaml").read_text()
    bad = tmp_path / "bad.yaml"
    bad.write_text(source.replace('retry_on: ["timeout"]', 'retry_on: ["cosmic_ray"]'))
    done = cli("import", str(bad))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"{bad}:15:9: " in done.stderr
    assert "cannot convert retry_on 'cosmic_ray' (known: " in done.stderr


def test_a_kind_without_counterpart_is_refused_at_its_kind_not_at_its_fields(cli, tmp_path):
    container = tmp_path / "container.yaml"  # modelled on container_callback_happy_path
    container.write_text(
        "apiVersion: noetl.io/v2\nkind: Playbook\nmetadata: {name: c}\nworkflow:\n"
        "  - step: start\n    tool:\n      kind: container\n      image: busybox\n"
        "      args: ['echo hi']\n      input: {}\n"
    )
    done = cli("import", str(container))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith(f"{container}:7:13: tool kind 'container' has no counterpart")
    assert "expected a mapping" not in done.stderr  # its list of args is not what is wrong
