"""`noetl retry` in the embedded mode: a failed execution runs again from where it failed, its
finished steps and loop iterations reused (recorded as `step.reused`), not run again."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

CHAIN = """
workload: {items: [1, 2, 3, 4], fixed: false}
workflow:
  - step: start
    tool: {kind: python, code: "result = 10"}
    next: [{step: fetch}]
  - step: fetch
    loop: {in: "{{ workload.items }}", iterator: n, spec: {mode: parallel, max_in_flight: 4}}
    tool:
      kind: python
      args: {n: "{{ iter.n }}", fixed: "{{ workload.fixed }}"}
      code: |
        if n % 2 == 0 and not fixed:
            raise RuntimeError(f"item {n} broke")
        result = n * n
    next: [{step: load, args: {squares: "{{ fetch.results }}"}}]
  - step: load
    tool: {kind: python, args: {s: "{{ args.squares }}", base: "{{ start }}"}, code: LOAD}
    next: [{step: end}]
  - step: end
"""


def write(cli: Any, name: str, load: str) -> Path:
    return cli.write(name, CHAIN.replace("LOAD", json.dumps(load)))


def retry(cli: Any, execution_id: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return cli("retry", execution_id, "--json", "--db", str(cli.db), *extra)


def events(cli: Any, execution_id: str) -> list[dict[str, Any]]:
    done = cli("events", execution_id, "--json", "--db", str(cli.db))
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout))


def ran(log: list[dict[str, Any]]) -> list[tuple[str, int | None]]:
    issued = [e for e in log if e["type"] == "command.issued"]
    return sorted((e["step"], e["iteration"]) for e in issued)


def reused(log: list[dict[str, Any]]) -> list[tuple[str, int | None]]:
    return sorted((e["step"], e["iteration"]) for e in log if e["type"] == "step.reused")


def test_retry_after_a_loop_failure_reruns_only_the_failed_iterations(cli):
    playbook = write(cli, "chain", "result = base + sum(s)")
    failed = cli.run(playbook)
    assert failed.error["step"] == "fetch"
    done = retry(cli, failed.execution_id, "--set", "fixed=true")
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout)
    assert outcome["status"] == "done" and outcome["result"] == 10 + 1 + 4 + 9 + 16
    log = events(cli, outcome["execution_id"])
    assert log[0]["payload"]["retry"]["of"] == failed.execution_id
    assert reused(log) == [("fetch", 0), ("fetch", 2), ("start", None)]
    assert ran(log) == [("fetch", 1), ("fetch", 3), ("load", None)]
    assert all(
        e["payload"]["from_execution"] == failed.execution_id
        for e in log
        if e["type"] == "step.reused"
    )


def test_retry_on_a_new_version_reruns_the_changed_step_and_what_follows(cli):
    broken = write(cli, "v1", "raise RuntimeError('load is broken')")
    failed = cli.run(broken, "--set", "fixed=true")
    assert failed.error["step"] == "load"
    fixed = write(cli, "v2", "result = base + sum(s)")
    done = retry(cli, failed.execution_id, "--file", str(fixed))
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout)
    assert outcome["result"] == 40
    log = events(cli, outcome["execution_id"])
    assert reused(log) == [("fetch", None), ("start", None)]
    assert ran(log) == [("load", None)]


def test_retry_from_a_step_reruns_it_and_everything_after_it(cli):
    broken = write(cli, "v1", "raise RuntimeError('load is broken')")
    failed = cli.run(broken, "--set", "fixed=true")
    fixed = write(cli, "v2", "result = base + sum(s)")
    done = retry(cli, failed.execution_id, "--file", str(fixed), "--from", "fetch")
    assert done.returncode == 0, done.stderr
    log = events(cli, json.loads(done.stdout)["execution_id"])
    assert reused(log) == [("start", None)]
    assert ran(log) == [("fetch", 0), ("fetch", 1), ("fetch", 2), ("fetch", 3), ("load", None)]


def test_bad_retries_are_one_line_errors_with_exit_code_2(cli):
    playbook = write(cli, "chain", "result = base + sum(s)")
    done = cli.run(playbook, "--set", "fixed=true")
    assert done.result == 40
    other = cli.folder / "other.yaml"
    other.write_text(cli.head.replace("name: t", "name: other") + "workflow:\n  - step: load\n")
    cases = {
        "unknown": ("123",),
        "finished": (done.execution_id,),
        "from_unknown": (done.execution_id, "--from", "nope"),
        "other_playbook": (done.execution_id, "--from", "load", "--file", str(other)),
    }
    answers = {name: retry(cli, *args) for name, args in cases.items()}
    for name, answer in answers.items():
        assert answer.returncode == 2, (name, answer.stdout, answer.stderr)
        assert answer.stderr.count("\n") == 1 and "Traceback" not in answer.stderr, answer.stderr
        assert answer.stdout == ""
    assert "123" in answers["unknown"].stderr
    assert "done" in answers["finished"].stderr and "--from" in answers["finished"].stderr
    assert "'nope'" in answers["from_unknown"].stderr
    assert "'t'" in answers["other_playbook"].stderr
    assert "'other'" in answers["other_playbook"].stderr
