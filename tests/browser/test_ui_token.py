"""With NOETL_API_TOKEN set, the page asks for the token once per browser session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playbooks import GREET
from playwright.sync_api import Page, expect

from support.ui_server import UiProcess

TOKEN = "ui-test-token-5d1c"


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiProcess]:
    home = tmp_path_factory.mktemp("guarded")
    env = {"NOETL_API_TOKEN": TOKEN}
    with UiProcess.start(["ui", "--home", str(home)], home, env=env) as process:
        yield process


def test_the_page_asks_for_the_token_once_and_keeps_it_for_the_session(
    page: Page, guarded: UiProcess, shots: Path
) -> None:
    guarded.register(GREET)
    assert httpx.get(guarded.url + "/api/v2/catalog").status_code == 401  # the API stays guarded
    page.goto(guarded.url + "/playbooks")
    dialog = page.get_by_role("dialog", name="API token")
    expect(dialog).to_be_visible()
    page.screenshot(path=shots / "token-prompt.png")
    dialog.get_by_label("Token").fill("wrong")
    dialog.get_by_role("button", name="Continue").click()
    expect(dialog.get_by_text("That token was not accepted.")).to_be_visible()
    dialog.get_by_label("Token").fill(TOKEN)
    dialog.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("link", name="ui/greet")).to_be_visible()
    page.get_by_role("link", name="ui/greet").click()  # a new page load: no second prompt
    page.get_by_role("button", name="Start execution").click()
    page.wait_for_url("**/executions/*")
    expect(page.locator('g.node[data-step="end"]')).to_have_class("node s-done", timeout=60_000)
    expect(page.get_by_role("dialog")).to_have_count(0)
    assert page.evaluate("sessionStorage.getItem('noetl.token')") == TOKEN
