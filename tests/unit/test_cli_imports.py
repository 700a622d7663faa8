"""The embedded CLI path imports none of the distributed stack.

`noetl run` and `noetl validate` are the commands people start most often from a shell, so their
cold start counts (benchmarks/embedded.py, case `cli_hello`). Each command's module is imported
only when that command runs (`noetl.cli.app`); these tests guard that property. They assert what
is imported, never how long it takes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HELLO = Path(__file__).parents[2] / "examples" / "hello.yaml"
V1_PLAYBOOK = Path(__file__).parent / "import_golden" / "v1_branching.input.yaml"

# What only the distributed mode (or another command) needs.
DISTRIBUTED = (
    "aiohttp",
    "fastapi",
    "starlette",
    "uvicorn",
    "psycopg",
    "psycopg_pool",
    "nats",
    "httpx",
    "prometheus_client",
    "opentelemetry.sdk",
    "duckdb",
)
# Not distributed, but no part of these commands either: rich draws for a person (`--json` is
# for programs), croniter parses schedules, ruamel writes imported playbooks.
NOT_FOR_JSON_RUN = ("rich", "croniter", "ruamel")
# What a server or an admin command opens, never `noetl run`.
SERVER_OR_ADMIN_ONLY = (
    "noetl.store.hooks",
    "noetl.store.retention",
    "noetl.store.sqlite.hooks",
    "noetl.store.sqlite.retention",
    "noetl.runtime.admin",
    "noetl.runtime.scheduler",
)
# Converting a playbook that is not canonical v2 (v1 or the NoETL form).
CONVERTING = (
    "noetl.dsl.importer.convert",
    "noetl.dsl.importer.v1",
    "noetl.dsl.importer.document",
    "noetl.dsl.importer.context",
)


def _within(modules: set[str], packages: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == p or m.startswith(p + ".") for p in packages))


def _imported_by(*arguments: str, cwd: Path) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run the CLI in a fresh interpreter; every module it imported, as `-X importtime` lists
    them (`noetl run` may leave through `os._exit`, so the child cannot report `sys.modules`
    itself at exit)."""
    command = [sys.executable, "-X", "importtime", "-c", "from noetl.cli.app import main; main()"]
    done = subprocess.run(
        [*command, *arguments],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        check=False,
    )
    modules = {
        line.rsplit("|", 1)[1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    return done, modules


def test_importing_the_app_imports_no_command() -> None:
    code = "import sys, json, noetl.cli.app; print(json.dumps(sorted(m for m in sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    modules = set(json.loads(done.stdout))
    assert "noetl.cli.app" in modules
    assert sorted(m for m in modules if m.startswith("noetl.cli.")) == ["noetl.cli.app"]
    assert not [m for m in modules if m.startswith("noetl.runtime")]
    assert _within(modules, DISTRIBUTED + NOT_FOR_JSON_RUN) == []


def test_run_json_imports_none_of_the_distributed_stack(tmp_path: Path) -> None:
    done, modules = _imported_by(
        "run", str(HELLO), "--json", "--db", str(tmp_path / "n.db"), cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["status"] == "done"
    assert {"noetl.cli.run", "noetl.runtime.assemble", "noetl.worker.loop"} <= modules
    assert _within(modules, DISTRIBUTED + NOT_FOR_JSON_RUN) == []
    assert not [m for m in modules if m.startswith("noetl.client") or m.startswith("noetl.server")]
    # Only the commands that ran: not the server's, the scheduler's or the importer's.
    assert sorted(m for m in modules if m.startswith("noetl.cli.")) == [
        "noetl.cli.app",
        "noetl.cli.options",
        "noetl.cli.run",
        "noetl.cli.terminal",
    ]
    assert _within(modules, SERVER_OR_ADMIN_ONLY) == []


def test_a_canonical_playbook_imports_no_converter(tmp_path: Path) -> None:
    done, modules = _imported_by("validate", "--json", str(HELLO), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert {"noetl.dsl.importer", "noetl.dsl.importer.forms"} <= modules
    assert _within(modules, CONVERTING) == []


def test_a_v1_playbook_still_loads_the_converter(tmp_path: Path) -> None:
    # The guard above must not pass merely because conversion moved out of reach.
    done, modules = _imported_by("validate", "--json", str(V1_PLAYBOOK), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "imported from NoETL v1" in json.loads(done.stdout)[0]["problems"][0]["message"]
    assert set(CONVERTING) <= modules


@pytest.mark.parametrize("command", [["validate"], ["validate", "--json"]])
def test_validate_imports_none_of_the_distributed_stack(tmp_path: Path, command: list[str]) -> None:
    done, modules = _imported_by(*command, str(HELLO), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "noetl.dsl.load" in modules
    assert _within(modules, DISTRIBUTED) == []
    assert not [m for m in modules if m.startswith("noetl.runtime")]


def test_every_command_a_module_registers_is_mapped_to_that_module() -> None:
    # A command missing from COMMAND_MODULES would silently not exist.
    import importlib
    import pkgutil

    import typer
    import typer.main

    import noetl.cli
    from noetl.cli.app import COMMAND_MODULES

    registered = {}
    for info in pkgutil.iter_modules(noetl.cli.__path__):
        module = importlib.import_module(f"noetl.cli.{info.name}")
        if info.name != "app" and hasattr(module, "register"):
            commands = typer.Typer()
            module.register(commands)
            registered.update(dict.fromkeys(typer.main.get_group(commands).commands, info.name))
    assert registered == COMMAND_MODULES
