"""Fixtures for the acceptance tests: the installed `noetl` console script, run as a subprocess.

The `cli` fixture runs the CLI with a SQLite file under the test's `tmp_path` (`--db`) and that
folder as its working directory, so nothing lands in the repository. `cli.run_many` starts
several runs at once: most of a run's wall time is interpreter start-up, and the suite has to
stay fast on two cores.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

NOETL = str(Path(sys.executable).with_name("noetl"))
HEAD = "apiVersion: noetl.io/v2\nkind: Playbook\nmetadata: {name: t}\n"
TIMEOUT = 20  # seconds a single CLI call may take before the test gives up on it
PARALLEL_RUNS = 4


@dataclass(frozen=True)
class Outcome:
    """How one `noetl run --json` ended: exit code, raw streams, and where its log is."""

    code: int
    stdout: str
    stderr: str
    db: Path

    @property
    def json(self) -> dict[str, Any]:
        """The one JSON object on stdout (fails the test when there is anything else)."""
        assert self.stdout.count("\n") == 1, f"expected one line:\n{self.stdout}\n{self.stderr}"
        value = json.loads(self.stdout)
        assert isinstance(value, dict), value
        assert set(value) == {"execution_id", "status", "result", "error"}, value
        return value

    @property
    def result(self) -> Any:
        """The result of an execution that must have ended `done` with exit code 0."""
        assert self.code == 0, self.stdout + self.stderr
        outcome = self.json
        assert outcome["status"] == "done" and outcome["error"] is None, outcome
        return outcome["result"]

    @property
    def error(self) -> dict[str, Any]:
        """The error of an execution that must have ended `failed` with exit code 1."""
        assert self.code == 1, self.stdout + self.stderr
        outcome = self.json
        assert outcome["status"] == "failed" and isinstance(outcome["error"], dict), outcome
        return dict(outcome["error"])

    @property
    def execution_id(self) -> str:
        """The id of the execution this run reported."""
        return str(self.json["execution_id"])


class Cli:
    """The installed `noetl` CLI, working in one test's temporary folder."""

    head = HEAD
    executable = NOETL

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.db = folder / "noetl.db"
        self._logs: dict[tuple[Path, str], list[dict[str, Any]]] = {}

    @staticmethod
    def env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment without NOETL_* settings or a terminal width (so a developer's
        shell cannot change what a test sees), plus `extra`."""
        clean = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("NOETL_") and k not in ("COLUMNS", "LINES")
        }
        return {**clean, **(extra or {})}

    def __call__(
        self, *args: str, cwd: Path | None = None, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """`noetl ARGS...` run to its end."""
        return subprocess.run(
            [NOETL, *args],
            capture_output=True,
            text=True,
            cwd=cwd or self.folder,
            env=self.env(env),
            timeout=TIMEOUT,
        )

    def start(
        self, playbook: Path, *extra: str, env: Mapping[str, str] | None = None
    ) -> subprocess.Popen[str]:
        """`noetl run PLAYBOOK --json --db DB EXTRA...` in the background."""
        return subprocess.Popen(
            [NOETL, "run", str(playbook), "--json", "--db", str(self.db), *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=self.folder,
            env=self.env(env),
        )

    def write(self, name: str, body: str, folder: Path | None = None) -> Path:
        """A playbook file `name`.yaml: the common head plus `body` (dedented)."""
        path = (folder or self.folder) / f"{name}.yaml"
        path.write_text(HEAD + textwrap.dedent(body))
        return path

    def run(
        self,
        playbook: Path,
        *extra: str,
        db: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Outcome:
        """`noetl run PLAYBOOK --json --db DB EXTRA...`."""
        db = db or self.db
        args = ("run", str(playbook), "--json", "--db", str(db), *extra)
        try:
            done = self(*args, cwd=db.parent, env=env)
        except subprocess.TimeoutExpired as exc:  # report a hang as a failed run, not a crash
            return Outcome(
                -9, _text(exc.stdout), f"timed out after {TIMEOUT}s\n{_text(exc.stderr)}", db
            )
        return Outcome(done.returncode, done.stdout, done.stderr, db)

    def run_many(
        self,
        jobs: Mapping[str, tuple[Path | str, Sequence[str]]],
        env: Mapping[str, Mapping[str, str]] | None = None,
        logs: Collection[str] = (),
    ) -> dict[str, Outcome]:
        """Run several playbooks at once: name -> (file or body, extra args) -> Outcome.

        A `str` is a playbook body (written under the common head); a `Path` is run as is. Each
        job gets its own folder and database; `env` adds variables to some jobs by name. The
        event logs of the jobs named in `logs` are read in the same go (see `events`).
        """

        def one(name: str) -> Outcome:
            source, extra = jobs[name]
            work = self.folder / name
            work.mkdir()
            playbook = source if isinstance(source, Path) else self.write(name, source, work)
            outcome = self.run(playbook, *extra, db=work / "noetl.db", env=(env or {}).get(name))
            if name in logs and outcome.code in (0, 1):
                self.events(outcome)
            return outcome

        with ThreadPoolExecutor(PARALLEL_RUNS) as pool:
            return dict(zip(jobs, pool.map(one, jobs), strict=True))

    def call_many(
        self, calls: dict[str, Sequence[str]]
    ) -> dict[str, subprocess.CompletedProcess[str]]:
        """Several `noetl ARGS...` calls at once: name -> args -> completed process."""
        with ThreadPoolExecutor(PARALLEL_RUNS) as pool:
            done = pool.map(lambda name: self(*calls[name]), calls)
            return dict(zip(calls, done, strict=True))

    def executions(self, db: Path) -> list[dict[str, Any]] | None:
        """`noetl executions list --json` of `db`; None when the file does not exist."""
        if not db.exists():
            return None
        done = self("executions", "list", "--json", "--db", str(db))
        assert done.returncode == 0, done.stderr
        rows = json.loads(done.stdout)
        assert isinstance(rows, list)
        return rows

    def events(self, outcome: Outcome) -> list[dict[str, Any]]:
        """`noetl events ID --json` of the execution `outcome` reported (read once: a finished
        execution's log does not change)."""
        key = (outcome.db, outcome.execution_id)
        if key not in self._logs:
            done = self("events", outcome.execution_id, "--json", "--db", str(outcome.db))
            assert done.returncode == 0, done.stderr
            log = json.loads(done.stdout)
            assert isinstance(log, list)
            self._logs[key] = log
        return self._logs[key]


def _text(output: bytes | str | None) -> str:
    if isinstance(output, bytes):
        return output.decode("utf-8", "replace")
    return output or ""


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    """The CLI working in this test's temporary folder."""
    return Cli(tmp_path)


@pytest.fixture(scope="module")
def module_cli(tmp_path_factory: pytest.TempPathFactory) -> Cli:
    """The CLI working in a temporary folder shared by one module's tests (for `run_many`)."""
    return Cli(tmp_path_factory.mktemp("runs"))
