"""`noetl results ID STEP`: a step's latest result, read with one store-filtered read (the step's
latest ending that is not a loop iteration's), from the local file and through `--server`
alike, printed as it always was (a loop's: its ordered iteration results, references loaded)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from noetl.config import Settings
from support.live_server import LiveServer

BIG = 70_000  # characters: above the inline limit, so that iteration's result is a reference
LOOP = f"""
workflow:
  - step: each
    loop:
      in: "{{{{ [0, 1, 2] }}}}"
      iterator: item
    tool:
      kind: python
      args: {{item: "{{{{ iter.item }}}}"}}
      code: "result = item * 2 if item < 2 else 'x' * {BIG}"
    next: after
  - step: after
    tool: {{kind: python, code: "result = {{'n': 42}}"}}
"""


def old_answer(events: list[dict], step: str) -> object:
    """What the command printed before: the last step.done / loop.done of `step` that is not
    an iteration's, found by scanning the whole log (references left as they are here)."""
    for event in reversed(events):
        kinds = ("step.done", "loop.done")
        if event["step"] == step and event["iteration"] is None and event["type"] in kinds:
            payload = event["payload"]
            return payload["results"] if "results" in payload else payload.get("result")
    raise AssertionError(f"no result for {step}")


def check_results(cli, execution_id: str, events: list[dict], *where: str) -> None:
    """`noetl results` of the loop and the step after it, and of a step that never ran."""
    answers = {step: cli("results", execution_id, step, *where) for step in ("each", "after")}
    for answer in answers.values():
        assert answer.returncode == 0, answer.stderr
    loop = json.loads(answers["each"].stdout)
    assert loop == [0, 2, "x" * BIG]
    recorded = old_answer(events, "each")
    assert recorded[:2] == loop[:2] and recorded[2]["result_ref"]["size"] == BIG + 2
    assert answers["each"].stdout == json.dumps(loop, indent=2) + "\n"  # printed as before
    assert json.loads(answers["after"].stdout) == old_answer(events, "after") == {"n": 42}
    missing = cli("results", execution_id, "nope", *where)
    assert missing.returncode == 1
    assert f"execution {execution_id} has no result for step 'nope'" in missing.stderr


def test_results_from_the_local_log(cli):
    run = cli.run(cli.write("loop", LOOP))
    assert run.json["status"] == "done", run.stderr
    events = cli.events(run)
    assert sum(1 for e in events if e["type"] == "step.done" and e["step"] == "each") == 3
    check_results(cli, run.execution_id, events, "--db", str(cli.db))


def test_results_through_a_server(cli, tmp_path: Path):
    folder = tmp_path / "server"
    folder.mkdir()
    with LiveServer(Settings(home=folder, db=folder / "noetl.db"), local_workers=1) as server:
        where = ("--server", server.url)
        started = cli("execute", str(cli.write("loop", LOOP)), "--wait", "--json", *where)
        assert started.returncode == 0, started.stderr
        execution_id = json.loads(started.stdout)["execution_id"]
        listed = cli("events", execution_id, "--json", *where)
        check_results(cli, execution_id, json.loads(listed.stdout), *where)
        api = f"{server.url}/api/v2/executions/{execution_id}/events"
        narrowed = {"step": "each", "iterations": "false", "order": "newest", "limit": 3}
        newest = httpx.get(api, params=narrowed).json()["events"]
        assert [e["type"] for e in newest] == ["loop.done", "loop.started", "step.started"]
        refused = httpx.get(api, params={**narrowed, "order": "sideways"})
        assert refused.status_code == 422 and "order" in refused.text
