"""The web UI over `noetl ui` (embedded SQLite log, in-process workers), in real Chromium."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import yaml
from playbooks import FAILING, GREET, HOSTILE, MANY, SECRET, WAIT
from playwright.sync_api import Page, expect

from support.ui_server import UiProcess

PATIENCE = 60_000  # ms for what must happen (runs on a busy machine); nothing is timed tightly


def graph_node(page: Page, step: str):  # type: ignore[no-untyped-def]
    return page.locator(f'svg.graph g.node[data-step="{step}"]')


def test_start_from_the_playbooks_page_and_watch_the_graph_turn_green(
    page: Page, ui: UiProcess, shots: Path
) -> None:
    ui.register(GREET)
    page.goto(ui.url + "/playbooks")
    page.get_by_role("link", name="ui/greet").click()
    expect(page.locator("#payload")).to_have_value(
        '{\n  "names": [\n    "ada",\n    "grace",\n    "linus"\n  ]\n}'
    )
    page.screenshot(path=shots / "playbook.png", full_page=True)
    page.get_by_role("button", name="Start execution").click()
    page.wait_for_url("**/executions/*")
    for step in ("start", "greet", "end"):
        expect(graph_node(page, step)).to_have_class("node s-done", timeout=PATIENCE)
    expect(graph_node(page, "greet").locator("text.count")).to_have_text("3/3")
    expect(page.locator(".title .badge")).to_have_text("done")
    graph_node(page, "greet").click()
    panel = page.locator(".panel")
    expect(panel).to_contain_text("iterations 3/3 done")
    worker = panel.locator(".ran-on .mono")  # the worker that ran the iterations
    expect(worker).not_to_have_text("")
    ran_on = worker.first.inner_text()
    attempts = panel.get_by_role("table", name="Task attempts").locator("tbody tr")
    expect(attempts).to_have_count(3)
    expect(attempts.first).to_contain_text(ran_on)
    logs = panel.locator(".task-logs .log-entry")  # what each iteration printed, and where
    expect(logs).to_have_count(3)
    expect(logs.locator("pre")).to_have_text([f"greeting {n}\n" for n in ("ada", "grace", "linus")])
    head = f"iteration 0 · task greet · attempt 1 · done on {ran_on}"
    expect(logs.first.locator(".log-head")).to_contain_text(head)
    page.screenshot(path=shots / "execution-graph.png", full_page=True)
    page.get_by_role("tab", name="Timeline").click()
    expect(page.locator(".gantt-bar.band")).to_contain_text("3/3")
    page.screenshot(path=shots / "execution-timeline.png", full_page=True)
    first = page.url
    page.get_by_role("button", name="Run again…").click()  # with an edited payload
    dialog = page.get_by_role("dialog")
    dialog.locator("#payload").fill('{"names": ["edsger"]}')
    dialog.get_by_role("button", name="Start").click()
    page.wait_for_url(lambda url: url != first and "/executions/" in url)
    expect(graph_node(page, "greet").locator("text.count")).to_have_text("1/1", timeout=PATIENCE)
    page.goto(ui.url + "/playbooks")
    page.screenshot(path=shots / "playbooks.png", full_page=True)


def test_a_bad_payload_is_refused_with_the_reason_before_sending(page: Page, ui: UiProcess) -> None:
    ui.register(GREET)
    before = len(ui.api("GET", "/executions")["executions"])
    page.goto(ui.url + "/playbooks/ui/greet")
    payload, start = page.locator("#payload"), page.get_by_role("button", name="Start execution")
    payload.fill('{"names": [ada]}')
    start.click()
    expect(page.locator("#payload-problem")).to_contain_text("payload: not valid JSON")
    expect(payload).to_have_attribute("aria-invalid", "true")
    payload.fill('["ada"]')
    start.click()
    expect(page.locator("#payload-problem")).to_have_text(
        'payload: must be a JSON object ({"name": value, ...})'
    )
    assert page.url.endswith("/playbooks/ui/greet")
    assert len(ui.api("GET", "/executions")["executions"]) == before


def test_a_failing_run_shows_the_failed_node_its_error_and_traceback(
    page: Page, ui: UiProcess, shots: Path
) -> None:
    ui.register(FAILING)
    execution_id = ui.start_run("ui/failing")
    page.goto(f"{ui.url}/executions/{execution_id}")
    expect(graph_node(page, "boom")).to_have_class("node s-failed", timeout=PATIENCE)
    expect(graph_node(page, "start")).to_have_class("node s-done")
    expect(page.locator(".title .badge")).to_have_text("failed")
    graph_node(page, "boom").focus()
    page.keyboard.press("Enter")  # the graph is keyboard navigable
    panel = page.locator(".panel")
    expect(panel.locator(".step-error")).to_contain_text("ValueError: the thing broke (line 2)")
    expect(panel.locator("pre.traceback")).to_contain_text(
        "line 3, in <module>\n    explode()\n"
        '  line 2, in explode\n    raise ValueError("the thing broke")'
    )
    expect(panel).to_contain_text("in task boom")
    attempt = panel.get_by_role("table", name="Task attempts").locator("tbody tr")
    expect(attempt).to_have_count(1)
    expect(attempt).to_contain_text("ValueError: the thing broke (line 2)")
    page.screenshot(path=shots / "execution-failed.png", full_page=True)


def test_cancel_a_running_execution(page: Page, ui: UiProcess, tmp_path: Path) -> None:
    ui.register(WAIT)
    flag = tmp_path / "go"
    execution_id = ui.start_run("ui/wait", {"flag": str(flag)})
    try:
        page.goto(f"{ui.url}/executions/{execution_id}")
        expect(graph_node(page, "start")).to_have_class("node s-running", timeout=PATIENCE)
        page.get_by_role("button", name="Cancel", exact=True).click()
        expect(page.locator(".title .badge")).to_have_text("cancelled", timeout=PATIENCE)
        expect(graph_node(page, "start")).to_have_class("node s-cancelled")
        expect(page.locator(".error-box")).to_contain_text("cancelled by request")
        expect(page.get_by_role("button", name="Cancel", exact=True)).to_have_count(0)
    finally:
        flag.touch()  # lets the task's thread end (a thread cannot be interrupted)
    assert ui.api("GET", f"/executions/{execution_id}")["status"] == "cancelled"


def test_a_1000_item_loop_renders_with_correct_counts(
    page: Page, ui: UiProcess, shots: Path
) -> None:
    ui.register(MANY)
    execution_id = ui.start_run("ui/many")
    page.goto(f"{ui.url}/executions/{execution_id}")
    expect(graph_node(page, "end")).to_have_class("node s-done", timeout=PATIENCE)
    expect(graph_node(page, "start").locator("text.count")).to_have_text("1000/1000")
    page.get_by_role("tab", name="Timeline").click()
    expect(page.locator(".gantt-bar.band")).to_have_text("1000/1000")
    page.get_by_role("tab", name="Event log").click()
    expect(page.locator("#ev-count")).to_have_text("500 event(s) shown, more to load")
    page.locator("#ev-type").select_option("loop.done")  # filtered on the server: whole log
    expect(page.locator(".events tbody tr")).to_have_count(1)
    expect(page.locator("#ev-count")).to_have_text("1 event(s) shown")
    page.screenshot(path=shots / "execution-loop-events.png", full_page=True)


def test_the_event_log_filters_by_type_and_step(page: Page, ui: UiProcess, shots: Path) -> None:
    ui.register(GREET)
    execution_id = ui.start_run("ui/greet")
    ui.api("GET", f"/executions/{execution_id}?wait=30")
    events = ui.api("GET", f"/executions/{execution_id}/events")["events"]
    page.goto(f"{ui.url}/executions/{execution_id}")
    page.get_by_role("tab", name="Event log").click()
    rows = page.locator(".events tbody tr")
    expect(rows).to_have_count(len(events))
    page.locator("#ev-type").select_option("step.done")
    done = [e for e in events if e["type"] == "step.done"]
    expect(rows).to_have_count(len(done))
    assert set(rows.evaluate_all("rows => rows.map(r => r.dataset.type)")) == {"step.done"}
    page.locator("#ev-step").select_option("end")
    expect(rows).to_have_count(sum(1 for e in done if e["step"] == "end"))
    page.locator("#ev-type").select_option("")
    expect(rows).to_have_count(sum(1 for e in events if e["step"] == "end"))
    rows.first.locator("summary").click()  # the payload view
    expect(rows.first.locator("pre.json")).to_be_visible()
    page.screenshot(path=shots / "execution-events.png", full_page=True)


def test_live_updates_arrive_without_a_reload(
    page: Page, ui: UiProcess, shots: Path, tmp_path: Path
) -> None:
    ui.register(WAIT)
    page.goto(ui.url + "/")
    expect(page.locator("#conn")).to_have_text("● live", timeout=PATIENCE)
    page.evaluate("window.__same_page = true")
    flag = tmp_path / "go"
    execution_id = ui.start_run("ui/wait", {"flag": str(flag)})
    row = page.locator(f'tr[data-id="{execution_id}"]')
    expect(row.locator(".badge")).to_have_text("running", timeout=PATIENCE)
    page.screenshot(path=shots / "executions.png", full_page=True)
    flag.touch()
    expect(row.locator(".badge")).to_have_text("done", timeout=PATIENCE)
    assert page.evaluate("window.__same_page") is True
    # the execution page follows its own stream the same way
    again = ui.start_run("ui/wait", {"flag": str(tmp_path / "later")})
    page.goto(f"{ui.url}/executions/{again}")
    expect(graph_node(page, "start")).to_have_class("node s-running", timeout=PATIENCE)
    page.evaluate("window.__same_page = true")
    (tmp_path / "later").touch()
    expect(graph_node(page, "end")).to_have_class("node s-done", timeout=PATIENCE)
    expect(page.locator(".title .badge")).to_have_text("done")
    assert page.evaluate("window.__same_page") is True


def test_error_pages_say_what_is_wrong(page: Page, ui: UiProcess, shots: Path) -> None:
    page.goto(ui.url + "/executions/404404404")
    expect(page.locator("h1")).to_have_text("Unknown execution")
    expect(page.locator(".error-page")).to_contain_text("404404404")
    page.screenshot(path=shots / "error-unknown-execution.png")
    _store_invalid_version(ui.home_db(), "ui/broken")
    page.goto(ui.url + "/playbooks/ui/broken")
    expect(page.locator("#problems h2")).to_have_text("This playbook no longer validates")
    expect(page.locator("li.has-problem .problem-note").first).to_be_visible()
    expect(page.locator(".notice")).to_contain_text("cannot be started")
    page.screenshot(path=shots / "error-invalid-playbook.png", full_page=True)
    ui.register(GREET)
    execution_id = ui.start_run("ui/greet")
    ui.api("GET", f"/executions/{execution_id}?wait=30")
    _break_recorded_playbook(ui.home_db(), execution_id)
    page.goto(f"{ui.url}/executions/{execution_id}")
    notice = page.locator(".graph-box .notice")
    expect(notice.locator("h2")).to_have_text("This execution's playbook no longer validates")
    expect(notice).to_contain_text("line 6: next: unknown step 'nowhere'")
    expect(page.locator(".title .badge")).to_have_text("done")  # the rest of the page is there
    page.screenshot(path=shots / "error-execution-playbook.png")
    page.goto(ui.url + "/no/such/page")
    expect(page.locator("h1")).to_have_text("Page not found")
    page.route("**/api/v2/**", lambda route: route.abort())  # as if the server went away
    page.goto(ui.url + "/")
    expect(page.locator("h1")).to_have_text("Server unreachable")
    expect(page.locator(".error-page")).to_contain_text("is unreachable")
    page.screenshot(path=shots / "error-unreachable.png")


def test_workers_and_credentials_pages(page: Page, ui: UiProcess, shots: Path) -> None:
    page.goto(ui.url + "/workers")
    expect(page.locator("h1")).to_have_text("Workers")
    # `noetl ui` runs its workers inside the server: none registers (they are not processes)
    expect(page.locator("main")).to_contain_text("No workers have registered.")
    secret = "s3cr3t-value-9f2e"
    ui.api("PUT", "/credentials/warehouse", json={"type": "postgres", "data": {"dsn": secret}})
    page.goto(ui.url + "/credentials")
    row = page.locator("tbody tr")
    expect(row).to_have_count(1)
    expect(row.locator("td").nth(0)).to_have_text("warehouse")
    expect(row.locator("td").nth(1)).to_have_text("postgres")
    assert secret not in page.content()
    page.screenshot(path=shots / "credentials.png")


def test_the_workers_page_shows_pools_slots_and_running_commands(
    page: Page, ui: UiProcess, shots: Path
) -> None:
    """Against the registry's contract (GET /api/v2/workers), answered here by the test."""
    now = "2026-12-06T08:00:00+00:00"
    workers = [
        {"worker_id": "w-a1", "pool": "default", "slots": 4, "busy": 1, "running": ["c-17"]},
        {"worker_id": "w-a2", "pool": "default", "slots": 4, "busy": 0, "running": []},
        {"worker_id": "w-gpu", "pool": "gpu", "slots": 2, "busy": 2, "running": ["c-3", "c-4"]},
    ]
    for worker in workers:
        lost = worker["worker_id"] == "w-a2"
        worker.update(version="0.1.0", started_at=now, last_heartbeat=now)
        worker["status"] = "lost" if lost else "alive"
    page.route("**/api/v2/workers", lambda route: route.fulfill(json={"workers": workers}))
    page.goto(ui.url + "/workers")
    pools = page.locator("section.pool")
    expect(pools).to_have_count(2)
    expect(pools.nth(0).locator("h2")).to_contain_text("1/8 slots busy · 2 worker(s)")
    expect(pools.nth(1).locator("h2")).to_contain_text("2/2 slots busy · 1 worker(s)")
    lost = pools.nth(0).locator("tbody tr").nth(1)
    expect(lost.locator(".badge")).to_have_text("lost")
    expect(pools.nth(1).locator("tbody tr")).to_contain_text("c-3, c-4")
    page.screenshot(path=shots / "workers.png")


def test_phone_width_keeps_pages_usable(page: Page, ui: UiProcess, shots: Path) -> None:
    ui.register(FAILING)
    execution_id = ui.start_run("ui/failing")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{ui.url}/executions/{execution_id}")
    expect(graph_node(page, "boom")).to_have_class("node s-failed", timeout=PATIENCE)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways at phone width ({width} px)"
    page.screenshot(path=shots / "phone-execution.png", full_page=True)
    page.goto(ui.url + "/")
    expect(page.locator(f'tr[data-id="{execution_id}"]')).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the list scrolls sideways at phone width ({width} px)"
    page.screenshot(path=shots / "phone-executions.png")


def _store_invalid_version(db: Path, path: str) -> None:
    """A catalog entry that does not validate (as one registered by an older NoETL would)."""
    source = (
        "apiVersion: noetl.io/v2\nkind: Playbook\nmetadata: {name: broken}\n"
        "workflow:\n  - step: start\n    next: [{step: nowhere}]\n"
    )
    with sqlite3.connect(db) as conn:
        conn.execute(
            "INSERT INTO catalog (path, version, name, source, sha256, created_at) "
            "VALUES (?, 1, 'broken', ?, 'x', '2026-01-01T00:00:00.000000+00:00')",
            (path, source),
        )


def _break_recorded_playbook(db: Path, execution_id: str) -> None:
    """An execution whose recorded playbook no longer validates (one started by an older
    NoETL whose rules have since changed)."""
    source = (
        "apiVersion: noetl.io/v2\nkind: Playbook\nmetadata: {name: greet, path: ui/greet}\n"
        "workflow:\n  - step: start\n    next: [{step: nowhere}]\n"
    )
    with sqlite3.connect(db) as conn:
        conn.execute(
            "UPDATE events SET payload = json_set(payload, '$.playbook.source', ?) "
            "WHERE execution_id = ? AND type = 'playbook.started'",
            (source, execution_id),
        )


def test_a_200_step_graph_is_laid_out_in_layers(page: Page, ui: UiProcess, shots: Path) -> None:
    ui.register(wide_playbook(200))
    page.goto(ui.url + "/playbooks/ui/wide")
    nodes = page.locator("svg.graph g.node")
    expect(nodes).to_have_count(200)
    boxes = nodes.evaluate_all(
        "nodes => nodes.map(n => { const r = n.querySelector('rect');"
        " return [+r.getAttribute('x'), +r.getAttribute('y')]; })"
    )
    assert len(set(map(tuple, boxes))) == 200  # no two steps drawn on top of each other
    page.locator(".graph-box").screenshot(path=shots / "graph-200.png")


def wide_playbook(steps: int) -> str:
    """`steps` steps in forks of four branches that join again: a graph to read at scale."""
    names = ["start"] + [f"s{n}" for n in range(1, steps)]
    workflow = []
    for n, name in enumerate(names):
        step: dict[str, object] = {"step": name}
        fork = n % 5 == 0
        after = range(n + 1, n + 5) if fork else [n - n % 5 + 5]  # branches meet at the next fork
        arcs = [{"step": names[m]} for m in after if m < steps]
        if arcs:
            step["next"] = arcs
        spec = {"next_mode": "inclusive"} if fork else {}
        if fork and n:
            spec["join"] = "all"
        if spec:
            step["spec"] = spec
        workflow.append(step)
    document = {
        "apiVersion": "noetl.io/v2",
        "kind": "Playbook",
        "metadata": {"name": "wide", "path": "ui/wide"},
        "workflow": workflow,
    }
    return yaml.safe_dump(document, sort_keys=False)


def test_the_list_filters_by_status_and_playbook_and_finds_by_id(page: Page, ui: UiProcess) -> None:
    ui.register(FAILING)
    ui.register(GREET)
    failing = ui.start_run("ui/failing")
    greeting = ui.start_run("ui/greet")
    for execution_id in (failing, greeting):
        ui.api("GET", f"/executions/{execution_id}?wait=30")
    page.goto(ui.url + "/")
    page.locator("#f-status").select_option("failed")  # applies at once
    badges = page.locator("tbody tr .badge")
    expect(page.locator(f'tr[data-id="{greeting}"]')).to_have_count(0)  # the filtered page
    expect(page.locator(f'tr[data-id="{failing}"]')).to_be_visible()
    assert set(badges.all_inner_texts()) == {"failed"}
    assert "status=failed" in page.url
    page.reload()  # the filter lives in the URL
    expect(page.locator("#f-status")).to_have_value("failed")
    page.locator("#f-status").select_option("")
    page.locator("#f-playbook").fill("ui/greet")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator(f'tr[data-id="{failing}"]')).to_have_count(0)
    expect(page.locator(f'tr[data-id="{greeting}"]')).to_be_visible()
    playbooks = page.locator("tbody tr td:nth-child(3) a").all_inner_texts()
    assert set(playbooks) == {"ui/greet"}
    version = ui.api("GET", f"/executions/{greeting}")["playbook_version"]
    assert isinstance(version, int)  # started from the catalog: the version it ran is listed
    expect(page.locator(f'tr[data-id="{greeting}"] td.version')).to_have_text(f"v{version}")
    find, open_ = page.locator("#find-id"), page.get_by_role("button", name="Open")
    find.fill("12345")
    open_.click()
    expect(page.locator("#banner")).to_have_text(
        "No execution with id 12345, nor one whose id starts with it."
    )
    shared = next(  # ids are time-ordered: they have a long start in common
        failing[:n] for n in range(len(failing), 0, -1) if greeting.startswith(failing[:n])
    )
    find.fill(shared)
    open_.click()
    expect(page.locator("#banner")).to_contain_text(f"have an id starting with {shared}")
    expect(page.locator("#banner")).to_contain_text("type more of it")
    others = [e["execution_id"] for e in ui.api("GET", "/executions?limit=1000")["executions"]]
    unique = next(  # the shortest start of `failing` that no other execution's id has
        failing[:n]
        for n in range(1, len(failing) + 1)
        if not any(o.startswith(failing[:n]) for o in others if o != failing)
    )
    find.fill(unique)
    open_.click()
    page.wait_for_url(f"**/executions/{failing}")
    expect(graph_node(page, "boom")).to_have_class("node s-failed")
    page.goto(ui.url + "/")
    find.fill(failing)  # the whole id
    open_.click()
    page.wait_for_url(f"**/executions/{failing}")


def test_a_dropped_stream_reconnects_and_resumes_after_the_last_seq(
    page: Page, ui: UiProcess, tmp_path: Path
) -> None:
    ui.register(WAIT)
    flag = tmp_path / "go"
    execution_id = ui.start_run("ui/wait", {"flag": str(flag)})
    asked: list[dict[str, str]] = []

    def drop_the_first(route):  # type: ignore[no-untyped-def]
        asked.append(route.request.headers)
        if len(asked) == 1:  # the connection closes at once, as a restarted server's would
            route.fulfill(status=200, content_type="text/event-stream", body="retry: 100\n\n")
        else:
            route.continue_()

    page.route("**/events/stream*", drop_the_first)
    page.goto(f"{ui.url}/executions/{execution_id}")
    expect(graph_node(page, "start")).to_have_class("node s-running", timeout=PATIENCE)
    flag.touch()
    expect(graph_node(page, "end")).to_have_class("node s-done", timeout=PATIENCE)
    assert len(asked) >= 2
    seen = int(asked[1]["last-event-id"])  # resumes after what the page had loaded
    assert 0 < seen <= ui.api("GET", f"/executions/{execution_id}")["last_seq"]


def test_secrets_stay_masked_on_every_view(page: Page, ui: UiProcess) -> None:
    value = "sig-k3y-7d41-never-shown"
    ui.api("PUT", "/credentials/signing", json={"type": "generic", "data": {"key": value}})
    ui.register(SECRET)
    execution_id = ui.start_run("ui/secret")
    page.goto(f"{ui.url}/executions/{execution_id}")
    expect(graph_node(page, "start")).to_have_class("node s-done", timeout=PATIENCE)
    graph_node(page, "start").click()
    expect(page.locator(".panel")).to_contain_text("the key is ***")
    expect(page.locator(".panel .task-logs pre")).to_have_text("signing with ***\n")
    page.get_by_role("tab", name="Event log").click()
    expect(page.locator(".events tbody tr").first).to_be_visible()
    for summary in page.locator(".events summary").all():
        summary.click()  # every payload open
    page.get_by_role("tab", name="Timeline").click()
    assert value not in page.content()


def test_text_from_the_log_is_shown_as_text_and_bidi_controls_reorder_nothing(
    page: Page, ui: UiProcess
) -> None:
    """Markup in names, results and errors is text; a right-to-left override in an error is
    written out, so it cannot turn the words after it around ("evil (line 1)" drawn as
    "(1 enil) live")."""
    ui.register(HOSTILE)
    execution_id = ui.start_run("ui/hostile")
    page.goto(f"{ui.url}/executions/{execution_id}")
    expect(graph_node(page, "boom")).to_have_class("node s-failed", timeout=PATIENCE)
    banner = page.locator(".error-box").first
    expect(banner).to_contain_text("<svg onload=window.pwned=4> <U+202E>evil (line 1)")
    graph_node(page, "start").click()
    expect(page.locator(".panel")).to_contain_text('"name": "invoice<U+202E>txt.exe"')
    expect(page.locator(".panel")).to_contain_text("<img src=x onerror=window.pwned=3>")
    page.goto(ui.url)
    expect(page.locator("tbody")).to_contain_text("<img src=x onerror=window.pwned=1>")
    assert page.evaluate("window.pwned") is None
    assert "\u202e" not in page.locator("body").inner_text()


def test_the_playbooks_page_pages_through_a_long_catalog(page: Page, ui: UiProcess) -> None:
    source = "apiVersion: noetl.io/v2\nkind: Playbook\nmetadata: {name: p}\nworkflow: []\n"
    with sqlite3.connect(ui.home_db()) as conn:  # after every other path ("zz-"), 2 pages
        conn.executemany(
            "INSERT INTO catalog (path, version, name, source, sha256, created_at) "
            "VALUES (?, 1, 'p', ?, 'x', '2026-01-01T00:00:00.000000+00:00')",
            [(f"zz-paging/p{i:03}", source) for i in range(150)],
        )
    listed = [e["path"] for e in ui.api("GET", "/catalog", params={"limit": 1000})]
    total = len(listed)
    assert 150 <= total <= 200
    page.goto(ui.url + "/playbooks")
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(100)
    previous = page.get_by_role("button", name="← Previous")
    following = page.get_by_role("button", name="Next →")
    expect(previous).to_be_disabled()
    following.click()
    expect(rows).to_have_count(total - 100)
    expect(rows.last).to_contain_text("zz-paging/p149")
    expect(following).to_be_disabled()
    previous.click()
    expect(rows).to_have_count(100)
    expect(rows.first.locator("td").first).to_have_text(listed[0])
