"""The process of `noetl dev up` as others see it: its pid file under the home, starting it
detached (`--background`) and stopping it (`noetl dev down`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from noetl.config import child_environment
from noetl.errors import LocalServiceError

READY = "ready; Ctrl-C stops everything"
WATCH_EVERY = 1.0  # seconds between looks for dead workers
START_TIMEOUT = 120.0  # seconds a background cluster gets to be ready
STOP_TIMEOUT = 60.0  # seconds a cluster gets to stop


def pid_file(home: Path) -> Path:
    """Where a running `dev up` writes its pid."""
    return home / "dev.pid"


def write_pid(home: Path) -> None:
    """Record this process as the cluster of `home`."""
    pid_file(home).write_text(f"{os.getpid()}\n")


def remove_pid(home: Path) -> None:
    """Forget the cluster of `home` (it stopped)."""
    pid_file(home).unlink(missing_ok=True)


def running_pid(home: Path) -> int | None:
    """The pid of the cluster running under `home`; None (and a stale file removed) if none."""
    try:
        pid = int(pid_file(home).read_text().strip())
    except (OSError, ValueError):
        return None
    if _alive(pid):
        return pid
    remove_pid(home)
    return None


def start_detached(
    home: Path, args: list[str], environment: dict[str, str | None]
) -> tuple[int, list[str]]:
    """Run `noetl dev up ARGS` in its own session, with `environment` changed in its
    environment, output to home/logs/dev.log; wait until it is ready. Its pid and what it
    printed; LocalServiceError when it exits or takes too long."""
    log_path = home / "logs" / "dev.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "noetl", "dev", "up", *args],
            stdin=subprocess.DEVNULL,
            env=child_environment(environment),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C in this terminal is not for it
        )
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        lines = log_path.read_text().splitlines()
        if READY in lines:
            return process.pid, lines[: lines.index(READY)]
        if process.poll() is not None or time.monotonic() > deadline:
            if process.poll() is None:
                process.terminate()
            last = lines[-1] if lines else "no output"
            raise LocalServiceError(f"the cluster did not start ({last}); see {log_path}")
        time.sleep(0.2)


def stop(home: Path) -> int:
    """Stop the cluster running under `home` (SIGTERM, as Ctrl-C would) and wait; its pid."""
    pid = running_pid(home)
    if pid is None:
        raise LocalServiceError(f"no cluster is running under {home}")
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while _alive(pid):
        if time.monotonic() > deadline:
            raise LocalServiceError(f"the cluster under {home} (pid {pid}) did not stop in time")
        time.sleep(0.2)
    remove_pid(home)
    return pid


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of ours has exited: reap it
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return done == 0
