"""`make fuzz-api`: schemathesis against the OpenAPI schema of a live server; no 5xx allowed.

    python tests/fuzz/fuzz_api.py [--max-time 180] [--workers 2] [-- extra schemathesis args]

Starts PostgreSQL from the wheel and `noetl server start` on it (in-process bus, admin token,
a secret key so the credential routes work), runs `schemathesis run` on `/openapi.json` with the
`not_a_server_error` check, then fails when schemathesis found any 5xx or the server logged a
traceback. Not part of `make test`: it takes minutes.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from noetl.devservers.processes import free_port
from noetl.devservers.services import LocalPostgres
from noetl.store.credentials import generate_key

TOKEN = "fuzz-admin-token"
BIN = Path(sys.executable).parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-time", type=int, default=180, help="seconds of fuzzing")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("extra", nargs="*", help="more schemathesis arguments (after --)")
    options = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="noetl-fuzz-"))
    postgres = LocalPostgres.start(home / "postgres", durable=False)
    port = free_port()
    env = {**os.environ, "NOETL_API_TOKEN": TOKEN, "NOETL_SECRET_KEY": generate_key()}
    log = home / "server.log"
    command = [str(BIN / "noetl"), "server", "start", "--port", str(port), "--home", str(home)]
    command += ["--pg", postgres.dsn, "--log-level", "warning"]
    with log.open("wb") as out:
        server = subprocess.Popen(
            command,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_healthy(url)
        command = [str(BIN / "schemathesis"), "run", f"{url}/openapi.json"]
        command += ["--checks", "not_a_server_error", "--max-time", str(options.max_time)]
        command += ["--workers", str(options.workers), "-H", f"Authorization: Bearer {TOKEN}"]
        command += options.extra
        print("$", " ".join(command).replace(TOKEN, "<token>"), flush=True)
        found = subprocess.run(command, check=False).returncode
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)
        postgres.stop()
    tracebacks = log.read_text(errors="replace").count("Traceback")
    print(f"server log {log}: {tracebacks} tracebacks", flush=True)
    return 1 if found or tracebacks else 0


def _wait_healthy(url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/api/v2/health", timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the server did not come up; see its log")


if __name__ == "__main__":
    sys.exit(main())
