"""`noetl executions list|show` and `noetl events` on the log that `noetl run` left behind."""

from __future__ import annotations

import json

import pytest

GOOD = """
workflow:
  - step: start
    tool: {kind: python, code: "result = 6 * 7"}
    next: end
  - step: end
"""
BAD = """
workflow:
  - step: start
    tool: {kind: python, code: "raise ValueError('broken')"}
"""


@pytest.fixture(scope="module")
def log(module_cli):
    """One database holding a done and then a failed execution, and what the CLI says of it."""
    db = module_cli.db
    done = module_cli.run(module_cli.write("good", GOOD))
    failed = module_cli.run(module_cli.write("bad", BAD))
    ids = {"done": done.execution_id, "failed": failed.execution_id}
    calls = {
        "list": ["executions", "list", "--json", "--db", str(db)],
        "list_failed": ["executions", "list", "--status", "failed", "--json", "--db", str(db)],
        "list_table": ["executions", "list", "--db", str(db)],
        "show": ["executions", "show", ids["done"], "--db", str(db)],
        "events_done": ["events", ids["done"], "--json", "--db", str(db)],
        "events_failed": ["events", ids["failed"], "--json", "--db", str(db)],
        "events_table": ["events", ids["done"], "--db", str(db)],
        "events_unknown": ["events", "123", "--json", "--db", str(db)],
        "show_unknown": ["executions", "show", "123", "--db", str(db)],
        "list_no_db": ["executions", "list", "--db", str(module_cli.folder / "none.db")],
        "events_no_db": ["events", ids["done"], "--db", str(module_cli.folder / "none.db")],
    }
    return ids, done, failed, module_cli.call_many(calls)


def ok_json(done):
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_list_newest_first(log):
    ids, _, _, out = log
    rows = ok_json(out["list"])
    assert [(r["execution_id"], r["status"]) for r in rows] == [
        (ids["failed"], "failed"),
        (ids["done"], "done"),
    ]
    assert [r["execution_id"] for r in ok_json(out["list_failed"])] == [ids["failed"]]


def test_list_as_a_table(log):
    ids, _, _, out = log
    assert out["list_table"].returncode == 0
    assert ids["done"] in out["list_table"].stdout and ids["failed"] in out["list_table"].stdout


def test_show_summarises_one_execution(log):
    ids, done, _, out = log
    summary = ok_json(out["show"])
    assert summary["execution_id"] == ids["done"]
    assert summary["status"] == "done"
    assert summary["result"] == done.result == 42
    assert (summary["steps_done"], summary["steps_failed"]) == (2, 0)
    assert summary["error"] is None
    assert summary["started_at"] and summary["finished_at"]


@pytest.mark.parametrize(
    ("which", "last"), [("done", "playbook.done"), ("failed", "playbook.failed")]
)
def test_events_json(log, which, last):
    ids, _, _, out = log
    events = ok_json(out[f"events_{which}"])
    for event in events:
        assert {"type", "step", "seq", "payload"} <= set(event), event
        assert event["execution_id"] == ids[which]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert events[0]["type"] == "playbook.started"
    assert events[-1]["type"] == last
    assert sum(e["type"] == "playbook.started" for e in events) == 1


def test_events_of_the_done_run(log):
    _, _, _, out = log
    events = ok_json(out["events_done"])
    assert [(e["type"], e["step"]) for e in events if e["type"].startswith("step.")] == [
        ("step.started", "start"),
        ("step.done", "start"),
        ("step.started", "end"),
        ("step.done", "end"),
    ]
    assert events[-1]["payload"]["result"] == 42


def test_failed_run_error_is_in_the_log(log):
    _, _, failed, out = log
    assert failed.error["step"] == "start"
    [step_failed] = [e for e in ok_json(out["events_failed"]) if e["type"] == "step.failed"]
    assert "broken" in json.dumps(step_failed["payload"])


def test_events_as_a_table(log):
    _, _, _, out = log
    assert out["events_table"].returncode == 0
    assert "playbook.started" in out["events_table"].stdout


@pytest.mark.parametrize("call", ["events_unknown", "show_unknown"])
def test_unknown_execution_exits_1(log, call):
    _, _, _, out = log
    done = out[call]
    assert done.returncode == 1
    assert "123" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("call", ["list_no_db", "events_no_db"])
def test_missing_database_exits_1(log, call):
    _, _, _, out = log
    done = out[call]
    assert done.returncode == 1
    assert "none.db" in done.stderr and "Traceback" not in done.stderr
