"""`noetl schedule ...` on the local database and `noetl scheduler` firing it on the real clock."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from support.ui_server import UiProcess
from support.waiting import wait_for

HELLO = Path(__file__).parents[2] / "examples" / "hello.yaml"


def test_schedule_commands_and_their_refusals(cli):
    db = ("--db", str(cli.db))
    assert cli("catalog", "register", str(HELLO), *db).returncode == 0
    added = cli(
        "schedule",
        "add",
        "nightly",
        "examples/hello",
        "--cron",
        "0 2 * * *",
        "--tz",
        "Europe/Paris",
        "--misfire",
        "catch_up",
        "--json",
        *db,
    )
    assert added.returncode == 0, added.stderr
    [shown] = json.loads(added.stdout)
    assert shown["timezone"] == "Europe/Paris" and len(shown["next_fire_times"]) == 3
    assert all(t.endswith(("T01:00:00+00:00", "T00:00:00+00:00")) for t in shown["next_fire_times"])
    refusals = {
        "cron": ("add", "x", "examples/hello", "--cron", "0 2 * *"),
        "path": ("add", "x", "no/such", "--every", "5m"),
        "taken": ("add", "nightly", "examples/hello", "--every", "5m"),
        "both": ("add", "x", "examples/hello", "--every", "5m", "--cron", "* * * * *"),
        "every": ("add", "x", "examples/hello", "--every", "soon"),
        "forever": ("add", "x", "examples/hello", "--every", "99999999999d"),
        "payload": ("add", "x", "examples/hello", "--every", "5m", "--payload", '{"a": NaN}'),
        "overlap": ("add", "x", "examples/hello", "--every", "5m", "--overlap", "queue"),
        "zone": ("add", "x", "examples/hello", "--cron", "* * * * *", "--tz", "Mars/Base"),
        "pause": ("pause", "nope"),
        "delete": ("delete", "nope"),
    }
    answers = {name: cli("schedule", *args, *db) for name, args in refusals.items()}
    for name, answer in answers.items():
        assert answer.returncode == 2, (name, answer.stderr)
        assert answer.stderr.count("\n") == 1 and answer.stderr.startswith("error: "), answer.stderr
    for name, word in [
        ("cron", "cron"),
        ("path", "no/such"),
        ("taken", "exists"),
        ("every", "--every"),
        ("forever", "at most 100 years"),
        ("payload", "payload.a: nan is not a JSON number"),
        ("overlap", "overlap"),
        ("zone", "timezone"),
        ("pause", "nope"),
    ]:
        assert word in answers[name].stderr, (name, answers[name].stderr)
    assert cli("schedule", "pause", "nightly", *db).returncode == 0
    listed = json.loads(cli("schedule", "list", "--json", *db).stdout)
    assert [(s["name"], s["paused"], s["next_fire_times"]) for s in listed] == [
        ("nightly", True, [])
    ]
    assert cli("schedule", "resume", "nightly", *db).returncode == 0
    assert cli("schedule", "delete", "nightly", *db).returncode == 0
    assert json.loads(cli("schedule", "list", "--json", *db).stdout) == []


def test_the_embedded_scheduler_fires_each_slot_once(cli):
    db = ("--db", str(cli.db))
    assert cli("catalog", "register", str(HELLO), *db).returncode == 0
    assert cli("schedule", "add", "tick", "examples/hello", "--every", "1s", *db).returncode == 0
    scheduler = subprocess.Popen(
        [cli.executable, "scheduler", *db],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli.env(),
    )
    time.sleep(4.5)
    scheduler.send_signal(signal.SIGINT)
    out, err = scheduler.communicate(timeout=30)
    assert scheduler.returncode == 0, err
    fired = [line.split() for line in out.splitlines() if line.strip()]
    assert len(fired) >= 2, out + err
    executions = json.loads(cli("executions", "list", "--json", *db).stdout)
    assert {e["execution_id"] for e in executions} == {line[3] for line in fired}
    slots = []
    for line in fired:
        log = json.loads(cli("events", line[3], "--json", *db).stdout)
        slots.append(log[0]["payload"]["trigger"]["slot"])
        assert log[0]["payload"]["trigger"]["schedule"] == "tick"
    assert slots == [line[0] for line in fired] and max(Counter(slots).values()) == 1


def test_noetl_ui_fires_the_schedules_and_a_scheduler_beside_it_fires_no_slot_twice(cli):
    """`noetl ui` runs its database's schedules with its own workers (as `noetl scheduler`
    does); with a `noetl scheduler` on the same database too, each slot starts one execution."""
    assert "runs the database's schedules" in cli("ui", "--help").stdout
    db = ("--db", str(cli.db))
    assert cli("catalog", "register", str(HELLO), *db).returncode == 0
    assert cli("schedule", "add", "tick", "examples/hello", "--every", "1s", *db).returncode == 0
    with UiProcess.start(["ui", *db], cli.folder):
        by_ui = wait_for(lambda: len(f := _fired(cli.db)) >= 2 and f, "the ui to fire slots")
        scheduler = subprocess.Popen(
            [cli.executable, "scheduler", *db],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=cli.env(),
        )
        try:
            wait_for(lambda: len(_fired(cli.db)) >= len(by_ui) + 4, "more slots", timeout=60)
        finally:
            scheduler.send_signal(signal.SIGINT)
            _, err = scheduler.communicate(timeout=30)
        assert scheduler.returncode == 0, err
        wait_for(lambda: not _running(cli, db), "the executions to end")
    slots = _fired(cli.db)
    executions = json.loads(cli("executions", "list", "--limit", "100", "--json", *db).stdout)
    # A process stopped between starting a slot's execution and noting it in the slot leaves
    # the slot without its id (at most once): every id noted is an execution, though.
    assert {e["execution_id"] for e in executions} >= {run for run in slots.values() if run}
    assert len(executions) >= len(by_ui) + 3
    assert {e["status"] for e in executions} == {"done"}
    started = []
    for execution in executions:
        log = json.loads(cli("events", execution["execution_id"], "--json", *db).stdout)
        started.append(log[0]["payload"]["trigger"]["slot"])
    assert set(started) <= set(slots) and max(Counter(started).values()) == 1


def _fired(db: Path) -> dict[str, str | None]:
    """The schedule's fired slots and their executions (slots that passed before anything ran
    are recorded skipped, by the misfire policy)."""
    with sqlite3.connect(db) as connection:
        rows = connection.execute(
            "SELECT slot, execution_id FROM schedule_slots WHERE status = 'fired'"
        )
        return dict(rows.fetchall())


def _running(cli, db: tuple[str, str]) -> list[dict[str, str]]:
    listed = cli("executions", "list", "--status", "running", "--json", *db)
    return list(json.loads(listed.stdout))


SLOW = """\
apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: slow, path: tests/slow}
workflow:
  - step: start
    tool: {kind: python, code: "import time\\ntime.sleep(600)\\nresult = 1"}
"""


def _ignore_sigint() -> None:
    # What a non-interactive shell does to a command started with `&`.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["sigint", "sigterm"])
def test_a_stopped_scheduler_cancels_what_it_runs_and_leaves_nothing_running(cli, sig):
    """SIGINT (even when the shell started it with SIGINT ignored) and SIGTERM stop the
    scheduler cleanly: the execution it still runs is cancelled, saying why, so no execution
    of it stays `running` in the log (where an `overlap: skip` schedule would wait for ever)."""
    db = ("--db", str(cli.db))
    playbook = cli.folder / "slow.yaml"
    playbook.write_text(SLOW)
    assert cli("catalog", "register", str(playbook), *db).returncode == 0
    added = cli("schedule", "add", "slow", "tests/slow", "--every", "1s", "--overlap", "skip", *db)
    assert added.returncode == 0, added.stderr
    scheduler = subprocess.Popen(
        [cli.executable, "scheduler", *db],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli.env(),
        preexec_fn=_ignore_sigint,
    )
    try:
        wait_for(lambda: _running(cli, db), "the first slot's execution to run")
    finally:
        scheduler.send_signal(sig)
        try:
            out, err = scheduler.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            scheduler.kill()
            raise AssertionError(f"the scheduler did not stop on {sig!r}") from None
    assert scheduler.returncode == 0, err
    assert err.strip().endswith("stopped")
    [execution_id] = [line.split()[3] for line in out.splitlines() if line.strip()]
    executions = json.loads(cli("executions", "list", "--json", *db).stdout)
    assert [(e["execution_id"], e["status"]) for e in executions] == [(execution_id, "cancelled")]
    shown = json.loads(cli("executions", "show", execution_id, *db).stdout)
    assert shown["error"]["reason"] == "the scheduler stopped"
