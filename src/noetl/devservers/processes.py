"""The child processes of the dev servers: a free port, waiting until one is ready, stopping
one (killed when it does not exit in time), and the parent-death signal that ends it with its
parent on Linux. `services.py` and `cluster.py` start theirs with these.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from noetl.errors import LocalServiceError

HOST = "127.0.0.1"
READY_TIMEOUT = 30.0  # seconds a server gets to accept connections
STOP_TIMEOUT = 10.0  # seconds a server gets to shut down before it is killed
POLL = 0.05  # seconds between looks at a starting server


def free_port(host: str = HOST) -> int:
    """A TCP port that is free on `host` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_until(
    ready: Callable[[], bool], process: subprocess.Popen[bytes], what: str, log: Path
) -> None:
    """Poll `ready` for at most READY_TIMEOUT s; fail early and clearly if the server exits."""
    deadline = time.monotonic() + READY_TIMEOUT
    while not ready():
        if process.poll() is not None:
            raise LocalServiceError(
                f"{what} exited with code {process.returncode} while starting; "
                f"end of {log}:\n{tail(log)}"
            )
        if time.monotonic() > deadline:
            stop_process(process, signal.SIGKILL, what)
            raise LocalServiceError(
                f"{what} was not ready after {READY_TIMEOUT:.0f} s; end of {log}:\n{tail(log)}"
            )
        time.sleep(POLL)


def stop_process(process: subprocess.Popen[bytes], sig: int, what: str) -> None:
    """Send `sig`, wait for the exit, and kill the process if it does not exit in time."""
    if process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise LocalServiceError(
                f"{what} (pid {process.pid}) did not exit after SIGKILL"
            ) from None


def die_with_parent(sig: int) -> Callable[[], None] | None:
    """A preexec hook asking Linux to send `sig` to the child when its parent dies."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig = 1

    def hook() -> None:
        libc.prctl(pr_set_pdeathsig, int(sig))

    return hook


def tail(log: Path, lines: int = 20) -> str:
    """The last lines of a server log (empty when there is none)."""
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return ""
