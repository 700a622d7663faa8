"""`noetl ui` / `noetl server start` as a subprocess on a free port, for the browser tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

READY = 60.0  # seconds the process gets to answer /health (imports are slow on a busy machine)
NOETL = [sys.executable, "-c", "from noetl.cli.app import main; main()"]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_noetl(
    args: list[str], log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start `noetl ARGS` with its output in `log`."""
    with log.open("wb") as out:
        return subprocess.Popen(
            [*NOETL, *args], stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )


@dataclass
class UiProcess:
    """A running `noetl` command serving the app; `url` is its base URL."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path
    token: str | None = None
    home: Path | None = None

    @classmethod
    def start(cls, args: list[str], home: Path, *, env: dict[str, str] | None = None) -> UiProcess:
        """Run `noetl ARGS --port P` and wait until it answers."""
        port = free_port()
        log = home / f"noetl-{port}.log"
        merged = {**os.environ, "NOETL_HOME": str(home), **(env or {})}
        with log.open("wb") as out:
            process = subprocess.Popen(
                [*NOETL, *args, "--port", str(port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=merged,
            )
        ui = cls(process, f"http://127.0.0.1:{port}", log, merged.get("NOETL_API_TOKEN"), home)
        ui.wait_ready()
        return ui

    def home_db(self) -> Path:
        """The SQLite file of `noetl ui` (under its home)."""
        assert self.home is not None
        return self.home / "noetl.db"

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"noetl exited early:\n{self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/api/v2/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise AssertionError(f"noetl did not answer within {READY} s:\n{self.log.read_text()}")

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        """Call the REST API; the JSON answer (an error status fails the test)."""
        headers = {"authorization": f"Bearer {self.token}"} if self.token else {}
        answer = httpx.request(
            method, f"{self.url}/api/v2{path}", headers=headers, timeout=30, **kwargs
        )
        assert answer.status_code < 400, f"{method} {path}: {answer.status_code} {answer.text}"
        return answer.json() if answer.content else None

    def register(self, yaml: str) -> dict[str, Any]:
        """Register a playbook in the catalog."""
        entry: dict[str, Any] = self.api("POST", "/catalog", json={"content": yaml})
        return entry

    def start_run(self, path: str, payload: dict[str, Any] | None = None) -> str:
        """Start the latest version of `path`; its execution id."""
        body = {"path": path, "payload": payload or {}}
        started: dict[str, Any] = self.api("POST", "/executions", json=body)
        return str(started["execution_id"])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> UiProcess:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()
