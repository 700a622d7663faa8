"""Pages timed in Chromium (Debian's, driven by Playwright) against `noetl ui` on a SQLite file.

Used by `ui.py --browser`. The server is a `noetl ui` subprocess; every timing is one fresh
browser context, from navigation until a selector is on the page.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"]
ARGS += ["--disable-background-networking", "--disable-component-update", "--disable-sync"]


class Browser:
    """`noetl ui --db FOLDER/noetl.db` and a Chromium, for the duration of a `with` block."""

    def __init__(self, folder: Path) -> None:
        if not Path(CHROMIUM).exists():
            raise SystemExit(f"--browser needs Chromium at {CHROMIUM} (apt-get install chromium)")
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        command = [sys.executable, "-c", "from noetl.cli.app import main; main()", "ui"]
        command += ["--db", str(folder / "noetl.db"), "--port", str(port)]
        self.server = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/api/v2/health", timeout=2):
                    return
            except OSError:
                time.sleep(0.2)
        raise SystemExit("noetl ui did not answer within 120 s")

    def __enter__(self) -> Browser:
        from playwright.sync_api import sync_playwright

        self.driver: Any = sync_playwright().start()
        self.chromium = self.driver.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        return self

    def time_to(self, path: str, selector: str) -> float:
        """Seconds from navigating to `path` until `selector` is attached."""
        context = self.chromium.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        began = time.perf_counter()
        page.goto(self.url + path, wait_until="commit")
        page.wait_for_selector(selector, state="attached", timeout=120_000)
        elapsed = time.perf_counter() - began
        context.close()
        return elapsed

    def __exit__(self, *_: object) -> None:
        self.chromium.close()
        self.driver.stop()
        self.server.terminate()
        self.server.wait(30)
