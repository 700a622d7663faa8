"""Browser tests: real Chromium (Debian's `chromium`) driven by Playwright, against `noetl ui`
and `noetl server start` run as the user runs them (subprocesses on free ports).

One browser and one server per module keep these tests within a few minutes. Chromium is
installed with apt-get when it is missing and we are root; otherwise the tests fail saying what
to install (they are never skipped). Playwright's own browser downloads are never used.
Screenshots go to `$NOETL_UI_SCREENSHOTS` when set (`docs/img` to refresh the docs), else to a
temporary directory.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from noetl.store.credentials import generate_key
from support.ui_server import UiProcess

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 800}


def _ensure_chromium() -> str:
    """The Chromium binary; installed with apt-get when missing and we may."""
    if Path(CHROMIUM).exists():
        return CHROMIUM
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=False, env=env)
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"the browser tests need Chromium at {CHROMIUM}: install Debian's package "
            "`chromium` (apt-get install -y chromium) and run the tests again",
            pytrace=False,
        )
    return CHROMIUM


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    chromium = playwright.chromium.launch(executable_path=_ensure_chromium(), args=ARGS)
    try:
        yield chromium
    finally:
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context (own session storage) at 1280x800."""
    context = browser.new_context(viewport=DESKTOP)
    context.set_default_timeout(30_000)
    tab = context.new_page()
    problems: list[str] = []
    tab.on("pageerror", lambda error: problems.append(str(error)))
    try:
        yield tab
    finally:
        context.close()
    assert problems == [], f"JavaScript errors on the page: {problems}"


@pytest.fixture(scope="session")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go."""
    chosen = os.environ.get("NOETL_UI_SCREENSHOTS")
    folder = Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiProcess]:
    """`noetl ui` over a fresh SQLite log (in-process workers)."""
    home = tmp_path_factory.mktemp("ui")
    env = {"NOETL_SECRET_KEY": generate_key()}  # credentials can be stored (and never shown)
    with UiProcess.start(["ui", "--home", str(home)], home, env=env) as process:
        yield process
