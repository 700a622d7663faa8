"""Interrupted runs: a killed `noetl run` resumed from its log, and Ctrl-C cancelling cleanly."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

from support.playbooks import SLOW
from support.waiting import wait_for

LOOP = """
workload: {marks: "", n: 30}
workflow:
  - step: start
    loop: {in: "{{ range(workload.n) | list }}", iterator: i}
    tool:
      kind: python
      args: {i: "{{ iter.i }}", marks: "{{ workload.marks }}"}
      code: |
        import time
        with open(marks, "a") as f:  # a side effect that shows every run of an iteration
            f.write(str(i) + "\\n")
        time.sleep(0.1)
        result = i * i
    next: [{step: end, args: {total: "{{ start.results | sum }}"}}]
  - step: end
"""
ONE_STEP = """
workflow:
  - step: start
"""


def lines(path: Path) -> list[int]:
    return [int(x) for x in path.read_text().split()] if path.exists() else []


def test_killed_run_resumes_without_rerunning_finished_iterations(cli):
    marks = cli.folder / "marks.txt"
    process = cli.start(cli.write("loop", LOOP), "--set", f"marks={marks}")
    try:
        wait_for(lambda: len(lines(marks)) >= 5, "five iterations", every=0.02)
    finally:
        process.kill()  # SIGKILL: no chance to write anything more
        process.communicate()
    before = lines(marks)
    assert len(before) < 30, "the run finished before it could be killed"

    [row] = cli.executions(cli.db)
    assert row["status"] == "running"
    resumed = cli("run", "--resume", row["execution_id"], "--json", "--db", str(cli.db))
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    outcome = json.loads(resumed.stdout)
    assert outcome["execution_id"] == row["execution_id"]
    assert outcome["status"] == "done"
    assert outcome["result"] == {"total": sum(i * i for i in range(30))}

    runs = lines(marks)
    assert sorted(set(runs)) == list(range(30))
    # At least once: only the iteration in flight at the kill may have run twice.
    twice = {i for i in runs if runs.count(i) > 1}
    assert len(twice) <= 1 and twice <= set(before), (before, runs)
    assert runs[: len(before)] == before == list(range(len(before)))

    log = json.loads(cli("events", row["execution_id"], "--json", "--db", str(cli.db)).stdout)
    done = [e["iteration"] for e in log if e["type"] == "step.done" and e["step"] == "start"]
    assert sorted(done) == list(range(30))  # every iteration finished exactly once in the log
    assert log[-1]["type"] == "playbook.done"


NOETL_V1_WITH_A_SCRIPT_FILE = """\
apiVersion: noetl.io/v1
kind: Playbook
metadata: {name: scripted, path: scripted}
workload: {marks: ""}
workflow:
  - step: start
    type: python
    script: {uri: slow.py, source: {type: file}}
    input: {marks: "{{ workload.marks }}"}
    next: [{step: end}]
  - step: end
"""
SLOW_ONCE = """\
import os, time

def main(marks):
    if os.path.exists(marks):
        return "resumed"
    open(marks, "w").write("started")
    time.sleep(60)
    return "first"
"""


def test_killed_run_of_a_noetl_playbook_resumes_reading_its_script_file_again(cli):
    # The log keeps the playbook's text; its script file is read again beside the file the
    # log names, as `noetl run FILE` read it (a server reads no file: test_import_rules).
    (cli.folder / "slow.py").write_text(SLOW_ONCE)
    playbook = cli.folder / "scripted.yaml"
    playbook.write_text(NOETL_V1_WITH_A_SCRIPT_FILE)
    marks = cli.folder / "marks.txt"
    process = cli.start(playbook, "--set", f"marks={marks}")
    try:
        wait_for(marks.exists, "the step to start", every=0.02)
    finally:
        process.kill()
        process.communicate()
    [row] = cli.executions(cli.db)
    resumed = cli("run", "--resume", row["execution_id"], "--json", "--db", str(cli.db))
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert json.loads(resumed.stdout)["result"] == "resumed"


def test_resume_of_a_finished_execution_reports_it(cli):
    first = cli.run(
        cli.write("loop", LOOP), "--set", f"marks={cli.folder / 'm.txt'}", "--set", "n=2"
    )
    assert first.result == {"total": 1}
    again = cli("run", "--resume", first.execution_id, "--json", "--db", str(cli.db))
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["result"] == {"total": 1}
    assert lines(cli.folder / "m.txt") == [0, 1]  # nothing ran again


def test_resume_of_an_unknown_execution_is_invalid_input(cli):
    # No log at all: refused naming the file, and no empty log is left behind.
    missing = cli("run", "--resume", "123", "--json", "--db", str(cli.db))
    assert missing.returncode == 2
    outcome = json.loads(missing.stdout)  # --json: one object on stdout, whatever happened
    assert (outcome["execution_id"], outcome["status"]) == ("123", "invalid")
    assert outcome["error"] == {
        "kind": "not_found",
        "message": f"execution 123 not found: there is no event log at {cli.db}",
    }
    assert not cli.db.exists()
    # A log that does not have it.
    assert cli("run", cli.write("one", ONE_STEP), "--db", str(cli.db)).returncode == 0
    done = cli("run", "--resume", "123", "--json", "--db", str(cli.db))
    assert done.returncode == 2
    outcome = json.loads(done.stdout)
    assert (outcome["execution_id"], outcome["status"]) == ("123", "invalid")
    assert outcome["error"] == {"kind": "not_found", "message": "execution 123 not found"}
    assert "123" in done.stderr and "Traceback" not in done.stderr


def test_two_resumes_of_one_execution_one_runs_the_other_is_refused(cli):
    """D9: the second resumer is refused at once (exit 1), so no step runs in both."""
    marks = cli.folder / "marks.txt"
    process = cli.start(cli.write("loop", LOOP), "--set", f"marks={marks}")
    try:
        wait_for(lambda: len(lines(marks)) >= 5, "five iterations", every=0.02)
    finally:
        process.kill()
        process.communicate()
    before = lines(marks)
    [row] = cli.executions(cli.db)
    command = [cli.executable, "run", "--resume", row["execution_id"], "--json"]
    command += ["--db", str(cli.db)]
    resumers = [
        subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=cli.folder,
            env=cli.env(),
        )
        for _ in range(2)
    ]
    ended = sorted(((r.wait(60), *r.communicate()) for r in resumers), key=lambda ending: ending[0])
    (done_code, done_out, _), (refused_code, refused_out, refused_err) = ended
    assert (done_code, json.loads(done_out)["status"]) == (0, "done")
    refusal = json.loads(refused_out)
    assert refused_code == 1 and refusal["error"]["kind"] == "conflict"
    # The refusal is not a failure of the execution: the log's status, as the other runs it.
    assert (refusal["execution_id"], refusal["status"]) == (row["execution_id"], "running")
    assert "being run by another process" in refused_err
    runs = lines(marks)
    assert len(runs) <= 30 + 1 and sorted(set(runs)) == list(range(30)), (before, runs)


def test_ctrl_c_cancels_the_execution(cli):
    flag = cli.folder / "running.txt"
    process = cli.start(cli.write("slow", SLOW), "--set", f"flag={flag}")
    try:
        wait_for(flag.exists, "the task to start", every=0.02)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=15)
    finally:
        process.kill()
    assert process.returncode == 130, stdout + stderr
    outcome = json.loads(stdout)
    assert outcome["status"] == "cancelled"
    assert outcome["result"] is None

    log = json.loads(cli("events", outcome["execution_id"], "--json", "--db", str(cli.db)).stdout)
    assert log[-1]["type"] == "playbook.cancelled"
    assert "playbook.done" not in {e["type"] for e in log}
    [row] = cli.executions(cli.db)
    assert row["status"] == "cancelled"
