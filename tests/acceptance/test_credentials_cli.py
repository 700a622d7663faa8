"""`noetl credentials set|list|delete|keygen`, and secrets kept out of everything a run leaves:
the whole event log, the CLI output and the database file are searched for the values."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def with_env(cli: Any, **extra: str) -> Any:
    """A copy of the `cli` fixture whose runs also get the variables `extra` (the fixture's own
    environment drops every NOETL_* variable)."""
    clone = copy.copy(cli)
    clone.env = lambda more=None: cli.env({**extra, **(more or {})})
    return clone


def new_key(cli: Any) -> str:
    done = cli("credentials", "keygen")
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture
def key(cli) -> str:
    return new_key(cli)


@pytest.fixture
def keyed(cli, key) -> Any:
    return with_env(cli, NOETL_SECRET_KEY=key)


def test_keygen_prints_a_new_32_byte_key_each_time(cli):
    first, second = new_key(cli), new_key(cli)
    assert first != second
    assert len(base64.urlsafe_b64decode(first)) == 32


def test_set_without_a_key_says_how_to_make_one_and_writes_nothing(cli):
    done = cli("credentials", "set", "api", "--data", '{"token": "t0ken-value"}', "--db", "x.db")
    assert done.returncode == 2
    assert done.stderr == (
        "error: NOETL_SECRET_KEY is not set; generate one with `noetl credentials keygen`\n"
    )
    assert not (cli.folder / "x.db").exists()


def test_set_list_delete_never_print_values(keyed):
    secret = "s3cret-" + uuid.uuid4().hex
    data_file = keyed.folder / "pg.json"
    data_file.write_text(json.dumps({"host": "db.internal", "user": "app", "password": secret}))
    db = str(keyed.db)
    bearer = [json.dumps({"type": "bearer", "token": secret + suffix}) for suffix in ("", "2")]
    outputs = [
        keyed(
            "credentials", "set", "pg", "--type", "postgres", "--data", f"@{data_file}", "--db", db
        ),
        keyed("credentials", "set", "api", "--type", "http", "--data", bearer[0], "--db", db),
        keyed("credentials", "set", "api", "--type", "http", "--data", bearer[1], "--db", db),
    ]
    assert [o.stdout for o in outputs] == [
        "created credential pg (postgres)\n",
        "created credential api (http)\n",
        "updated credential api (http)\n",
    ]
    listed = keyed("credentials", "list", "--json", "--db", db)
    rows = json.loads(listed.stdout)
    assert [(r["name"], r["type"]) for r in rows] == [("api", "http"), ("pg", "postgres")]
    assert set(rows[0]) == {"name", "type", "created_at", "updated_at"}
    table = keyed("credentials", "list", "--db", db)
    deleted = keyed("credentials", "delete", "pg", "--db", db)
    again = keyed("credentials", "delete", "pg", "--db", db)
    assert deleted.stdout == "deleted credential pg\n"
    assert again.returncode == 1 and "credential 'pg' not found" in again.stderr
    for done in [*outputs, listed, table, deleted, again]:
        assert secret not in done.stdout + done.stderr
    assert secret.encode() not in database_bytes(keyed.db)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--data", '{"token": "half'], "--data: not valid JSON (line 1, column 11)"),
        (["--data", "[1, 2]"], "--data: expected a JSON object"),
        (["--data", "[" * 5000 + "]" * 5000], "--data: nested too deeply to parse"),
        (["--data", "@missing.json"], "missing.json: cannot read: No such file or directory"),
        (["--type", "ftp", "--data", '{"a": "b"}'], "unknown type 'ftp'"),
        (["--type", "postgres", "--data", '{"password": "half-secret"}'], "needs `dsn` or `host`"),
    ],
)
def test_bad_input_is_refused_naming_the_problem_not_the_value(keyed, args, message):
    done = keyed("credentials", "set", "x", *args, "--db", str(keyed.db))
    assert done.returncode == 2
    assert message in done.stderr
    assert "half" not in done.stderr
    assert not keyed.db.exists()


def test_a_wrong_key_is_a_clear_error_in_a_run(cli, keyed):
    keyed("credentials", "set", "api", "--data", '{"token": "t0ken-value"}', "--db", str(cli.db))
    other = with_env(cli, NOETL_SECRET_KEY=new_key(cli))
    playbook = cli.write(
        "wrong", "workflow:\n  - step: start\n    tool: {kind: secrets, name: api}\n"
    )
    error = other.run(playbook).error
    assert "step 'start' task 'start' field 'name'" in error["message"]
    assert "credential 'api' cannot be decrypted" in error["message"]


SECRET_PLAYBOOK = """\
workflow:
  - step: start
    tool:
      - stored: {kind: secrets, name: api, key: token}
      - env: {kind: secrets, provider: env, name: ACCEPTANCE_ENV_SECRET}
      - file: {kind: secrets, provider: file, name: secret.txt}
      - use:
          kind: python
          args:
            stored: "{{ results.stored.value }}"
            env: "{{ results.env.value }}"
            file: "{{ results.file.value }}"
          code: |
            import sys
            print("stored", stored, "env", env, "file", file)
            print("to stderr:", stored, file=sys.stderr)
            result = {"joined": stored + "|" + env + "|" + file, "nested": [{"s": stored}]}
    next: [{step: reveal}]
  - step: reveal
    tool:
      - again: {kind: secrets, name: api}
      - boom:
          kind: python
          args: {data: "{{ _prev.value }}"}
          code: |
            raise RuntimeError("cannot use token " + data["token"])
"""


def test_secrets_never_reach_the_event_log_the_output_or_the_database(cli, key):
    stored, env_value, file_value = (f"{kind}-{uuid.uuid4().hex}" for kind in "sef")
    keyed = with_env(cli, NOETL_SECRET_KEY=key, ACCEPTANCE_ENV_SECRET=env_value)
    (keyed.folder / "secret.txt").write_text(file_value + "\n")
    data = json.dumps({"token": stored, "region": "eu"})
    assert keyed("credentials", "set", "api", "--data", data, "--db", str(keyed.db)).returncode == 0
    playbook = keyed.write("secrets", SECRET_PLAYBOOK)
    done = keyed("run", str(playbook), "--json", "--db", str(keyed.db))
    assert done.returncode == 1, done.stderr
    outcome = json.loads(done.stdout)  # with --json, stdout holds the outcome only
    assert outcome["error"]["message"].endswith("RuntimeError: cannot use token *** (line 1)")
    assert "stored *** env *** file ***\n" in done.stderr  # what the task printed
    assert "to stderr: ***\n" in done.stderr
    execution = outcome["execution_id"]
    inspected = [
        keyed("events", execution, "--json", "--db", str(keyed.db)),
        keyed("events", execution, "--db", str(keyed.db)),
        keyed("executions", "show", execution, "--db", str(keyed.db)),
        keyed("results", execution, "start", "--db", str(keyed.db)),
    ]
    log = json.loads(inspected[0].stdout)
    use = next(e for e in log if e["type"] == "task.done" and e["payload"]["task"] == "use")
    assert use["payload"]["result"] == {"joined": "***|***|***", "nested": [{"s": "***"}]}
    everything = "".join(d.stdout + d.stderr for d in [done, *inspected])
    raw = database_bytes(keyed.db)
    for value in (stored, env_value, file_value):
        assert value not in everything
        assert value.encode() not in raw


def test_the_secret_env_example_signs_with_the_token_and_never_shows_it(cli):
    # Without --json the printed line goes to stdout, masked as well.
    token = "demo-" + uuid.uuid4().hex
    runner = with_env(cli, DEMO_API_TOKEN=token)
    plain = runner("run", str(EXAMPLES / "secret_env.yaml"), "--db", str(cli.db))
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.startswith("signing with ***\n")
    assert '"token": "***"' in plain.stdout and token not in plain.stdout + plain.stderr


def test_the_secret_env_example_with_json_keeps_stdout_for_the_outcome(cli):
    token = "demo-" + uuid.uuid4().hex
    runner = with_env(cli, DEMO_API_TOKEN=token)
    done = runner("run", str(EXAMPLES / "secret_env.yaml"), "--json", "--db", str(cli.db))
    assert done.returncode == 0, done.stderr
    assert done.stderr == "signing with ***\n"
    outcome = json.loads(done.stdout)
    message = "GET /v1/orders"
    signature = hmac.new(token.encode(), message.encode(), hashlib.sha256).hexdigest()
    assert outcome["result"] == {"message": message, "signature": signature, "token": "***"}
    log = runner("events", outcome["execution_id"], "--json", "--db", str(cli.db))
    assert token not in done.stdout + done.stderr + log.stdout
    assert token.encode() not in database_bytes(cli.db)


def test_the_secret_env_example_fails_clearly_without_its_variable(cli):
    env = {k: v for k, v in cli.env().items() if k != "DEMO_API_TOKEN"}
    done = subprocess.run(
        [cli.executable, "run", str(EXAMPLES / "secret_env.yaml"), "--json", "--db", str(cli.db)],
        capture_output=True,
        text=True,
        env=env,
        cwd=cli.folder,
        timeout=60,
    )
    assert done.returncode == 1
    message = json.loads(done.stdout)["error"]["message"]
    assert "task 'token' field 'name': environment variable 'DEMO_API_TOKEN' is not set" in message


def database_bytes(db: Path) -> bytes:
    """The database file and its WAL/SHM companions, as they are on disk."""
    return b"".join(p.read_bytes() for p in db.parent.iterdir() if p.name.startswith(db.name))


def test_stored_credential_example_signs_with_the_stored_key(cli, keyed):
    secret = "k3y-for-signing"
    stored = keyed(
        "credentials",
        "set",
        "signing",
        "--type",
        "generic",
        "--data",
        json.dumps({"key": secret}),
        "--db",
        str(cli.db),
    )
    assert stored.returncode == 0, stored.stderr
    example = Path(__file__).parents[2] / "examples" / "stored_credential.yaml"
    outcome = keyed.run(example)
    expected = hmac.new(secret.encode(), b"ship order 42", hashlib.sha256).hexdigest()
    assert outcome.result == expected
    log = json.dumps(cli.events(outcome))
    assert secret not in log and secret not in outcome.stdout + outcome.stderr
