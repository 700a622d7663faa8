"""Observing embedded runs from the CLI: the in-process workers listed, events followed live."""

from __future__ import annotations

import json
import time

from support.playbooks import BACKOFF, SLOW, assert_backoff_gaps
from support.waiting import wait_for

HEARTBEAT = {"NOETL_HEARTBEAT": "1"}  # the in-process workers tell the registry every second


def test_an_embedded_run_lists_its_in_process_workers_and_leaves_when_it_ends(cli):
    flag = cli.folder / "flag"
    process = cli.start(
        cli.write("slow", SLOW), "--set", f"flag={flag}", "--set", "seconds=8", env=HEARTBEAT
    )
    try:
        wait_for(flag.exists, "the task to start")
        time.sleep(1.2)  # a heartbeat (every second) has told the registry about the task
        listed = cli("workers", "list", "--json", "--db", str(cli.db))
        assert listed.returncode == 0, listed.stderr
        [worker] = json.loads(listed.stdout)["workers"]
        table = cli("workers", "list", "--db", str(cli.db))
    finally:
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, out + err
    assert worker["status"] == "alive"
    assert worker["worker_id"].endswith(f":{process.pid}")
    assert (worker["pool"], worker["slots"], worker["busy"]) == ("default", 4, 1)
    assert len(worker["running"]) == 1 and ":start:" in worker["running"][0]
    assert worker["worker_id"] in table.stdout and "alive" in table.stdout
    after = cli("workers", "list", "--json", "--db", str(cli.db))
    assert json.loads(after.stdout) == {"workers": []}


def test_workers_list_without_a_database_says_where_it_looked(cli):
    done = cli("workers", "list", "--db", str(cli.folder / "none.db"))
    assert done.returncode == 1
    assert "no NoETL database at" in done.stderr and "none.db" in done.stderr


def test_retry_backoff_gaps_are_visible_in_event_times(cli):
    outcome = cli.run(cli.write("backoff", BACKOFF))
    assert outcome.result == 4
    log = cli.events(outcome)
    assert_backoff_gaps(log)
    [started] = [e for e in log if e["type"] == "command.started"]
    [done] = [e for e in log if e["type"] == "step.done"]
    assert started["payload"]["attempt"] == 1
    assert done["payload"]["worker_id"] == started["payload"]["worker_id"] != ""
    assert done["payload"]["duration_ms"] >= 2100
    assert started["created_at"] < done["created_at"]


CHAIN = """
workload: {flag: ""}
workflow:
  - step: start
    tool:
      kind: python
      args: {flag: "{{ workload.flag }}"}
      code: |
        import pathlib, time
        pathlib.Path(flag).write_text("running")
        time.sleep(2)
        result = 1
    next: [{step: second}]
  - step: second
    tool: {kind: python, code: "import time\\ntime.sleep(1)\\nresult = 2"}
"""


def test_events_follow_tails_a_running_execution_until_it_ends(cli):
    flag = cli.folder / "flag"
    process = cli.start(cli.write("chain", CHAIN), "--set", f"flag={flag}", env=HEARTBEAT)
    try:
        wait_for(flag.exists, "the first step to start")
        [row] = cli.executions(cli.db)
        followed = cli("events", row["execution_id"], "--follow", "--json", "--db", str(cli.db))
        text = cli("events", row["execution_id"], "-f", "--db", str(cli.db))
    finally:
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, out + err
    assert followed.returncode == 0, followed.stderr
    streamed = [json.loads(line) for line in followed.stdout.splitlines()]
    whole = cli("events", row["execution_id"], "--json", "--db", str(cli.db))
    assert streamed == json.loads(whole.stdout)
    assert streamed[-1]["type"] == "playbook.done"
    assert {"command.started", "task.done", "step.done"} <= {e["type"] for e in streamed}
    lines = text.stdout.splitlines()
    assert len(lines) == len(streamed) and "playbook.done" in lines[-1]
    assert any("command.started" in line and "worker=" in line for line in lines)


def test_events_follow_of_an_unknown_execution_fails_at_once(cli):
    cli.run(cli.write("quick", "workflow:\n  - step: start\n"))
    done = cli("events", "nope", "--follow", "--db", str(cli.db))
    assert done.returncode == 1
    assert "nope" in done.stderr


def test_run_trace_writes_the_spans_of_the_run_as_otlp_json(cli):
    traced = cli.folder / "trace.json"
    outcome = cli.run(cli.write("backoff", BACKOFF), "--trace", str(traced))
    assert outcome.result == 4
    exported = json.loads(traced.read_text())
    [resource] = exported["resourceSpans"]
    service = {a["key"]: a["value"] for a in resource["resource"]["attributes"]}
    assert service["service.name"] == {"stringValue": "noetl-run"}
    spans = [s for scope in resource["scopeSpans"] for s in scope["spans"]]
    assert len({s["traceId"] for s in spans}) == 1
    names = sorted(s["name"] for s in spans)
    assert names == ["execution t", "step start"] + ["task flaky"] * 4
    by_id = {s["spanId"]: s for s in spans}
    for task in (s for s in spans if s["name"] == "task flaky"):
        assert by_id[task["parentSpanId"]]["name"] == "step start"


PRINTS = """
workflow:
  - step: start
    tool:
      - chatty:
          kind: python
          args: {attempt: "{{ _attempt }}"}
          code: |
            import logging, sys
            print("hello from attempt", attempt)
            print("to stderr", file=sys.stderr)
            logging.getLogger("task").warning("careful")
            if attempt == 1:
                raise ConnectionError("try again")
            result = attempt
          eval:
            - expr: "{{ outcome.status == 'error' }}"
              do: retry
              attempts: 2
    next: [{step: loud}]
  - step: loud
    tool:
      kind: python
      code: |
        for i in range(20000):
            print(f"line {i:05d}")
        result = "done"
  - step: quiet
"""


def test_task_output_is_printed_live_kept_per_attempt_and_shown_by_noetl_logs(cli):
    playbook = cli.write("prints", PRINTS)
    ran = cli("run", str(playbook), "--db", str(cli.db))
    assert ran.returncode == 0, ran.stderr
    assert "hello from attempt 1" in ran.stdout and "line 19999" in ran.stdout  # live
    assert "to stderr" in ran.stderr
    [row] = cli.executions(cli.db)
    shown = cli("logs", row["execution_id"], "--json", "--db", str(cli.db))
    assert shown.returncode == 0, shown.stderr
    entries = json.loads(shown.stdout)
    assert [(e["step"], e["task"], e["attempt"], e["status"]) for e in entries] == [
        ("start", "chatty", 1, "error"),
        ("start", "chatty", 2, "success"),
        ("loud", "loud", 1, "success"),
    ]
    first = entries[0]
    assert first["output"] == "hello from attempt 1\nto stderr\nWARNING task: careful\n"
    assert first["worker_id"] and not first["truncated"]
    loud = entries[2]
    assert loud["truncated"] and len(loud["output"]) == 64 * 1024
    assert loud["output"].endswith("line 19999\n")  # the tail is kept
    text = cli("logs", row["execution_id"], "--step", "start", "--db", str(cli.db)).stdout
    assert text.count("== start task chatty attempt") == 2 and "line 0" not in text
    assert "hello from attempt 2" in text


def test_logs_of_an_unknown_execution_fail(cli):
    cli.run(cli.write("quick", "workflow:\n  - step: start\n"))
    done = cli("logs", "nope", "--db", str(cli.db))
    assert done.returncode == 1 and "nope" in done.stderr


def test_log_lines_carry_the_execution_step_command_and_worker_as_json(cli):
    playbook = cli.write(
        "logs",
        """
workflow:
  - step: start
    tool: {kind: python, code: "import logging\\nlogging.getLogger('task').warning('careful')"}
""",
    )
    ran = cli("run", str(playbook), "--db", str(cli.db), "--log-format", "json")
    assert ran.returncode == 0, ran.stderr
    [line] = [json.loads(x) for x in ran.stderr.splitlines() if x.startswith("{")]
    [row] = cli.executions(cli.db)
    assert line["message"] == "careful" and line["level"] == "warning"
    assert line["logger"] == "task"
    assert line["execution_id"] == row["execution_id"] and line["step"] == "start"
    assert line["command_id"].startswith(row["execution_id"] + ":start:")
    log = json.loads(cli("events", row["execution_id"], "--json", "--db", str(cli.db)).stdout)
    [started] = [e for e in log if e["type"] == "command.started"]
    assert line["worker_id"] == started["payload"]["worker_id"]
    text = cli("run", str(playbook), "--db", str(cli.db), "--log-level", "error")
    assert "careful" not in text.stderr  # below the level asked for


def test_a_bad_log_format_is_refused_naming_the_option(cli):
    done = cli("run", str(cli.write("q", "workflow:\n  - step: start\n")), "--log-format", "xml")
    assert done.returncode == 2
    assert "--log-format must be one of text, json" in done.stderr
