"""`noetl hook ...` on the local database (the same commands with `--server` are in
test_server_start.py): the secret is shown once, listing never shows it, and a bad name, an
unknown playbook or hook, or a taken name is one line on stderr and exit 2."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from noetl.store.hooks import hash_secret
from noetl.store.sqlite.hooks import SqliteHookStore

HELLO = Path(__file__).parents[2] / "examples" / "hello.yaml"


def test_hook_commands_on_the_local_database_and_their_refusals(cli):
    db = ("--db", str(cli.db))
    assert cli("catalog", "register", str(HELLO), *db).returncode == 0
    added = cli("hook", "add", "greet", "examples/hello", *db)
    assert added.returncode == 0, added.stderr
    assert "POST /api/v2/hooks/greet  (starts examples/hello)" in added.stdout
    secret = added.stdout.split("secret")[1].split()[0]
    listed = cli("hook", "list", *db)
    assert listed.returncode == 0, listed.stderr
    assert [h["name"] for h in json.loads(listed.stdout)] == ["greet"]
    assert secret not in listed.stdout and hash_secret(secret) not in listed.stdout

    async def stored() -> bool:
        hooks = SqliteHookStore.open(cli.db)
        try:
            return (await hooks.get("greet")).accepts(secret)
        finally:
            await hooks.close()

    assert asyncio.run(stored())  # the secret printed once is the one that opens the hook
    refusals = {
        "taken": ("add", "greet", "examples/hello"),
        "path": ("add", "other", "no/such"),
        "name": ("add", "bad name", "examples/hello"),
        "delete": ("delete", "nope"),
    }
    answers = {name: cli("hook", *args, *db) for name, args in refusals.items()}
    for name, answer in answers.items():
        assert answer.returncode == 2, (name, answer.stderr)
        assert answer.stderr.count("\n") == 1 and answer.stderr.startswith("error: "), answer.stderr
    for name, word in [("taken", "greet"), ("path", "no/such"), ("name", "bad name")]:
        assert word in answers[name].stderr, (name, answers[name].stderr)
    assert "'nope' not found" in answers["delete"].stderr
    deleted = cli("hook", "delete", "greet", *db)
    assert deleted.returncode == 0 and deleted.stdout.strip() == "deleted hook greet"
    assert json.loads(cli("hook", "list", *db).stdout) == []
