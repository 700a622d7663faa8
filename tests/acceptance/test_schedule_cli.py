"""`noetl schedule ...` on the local database and `noetl scheduler` firing it on the real clock."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

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
