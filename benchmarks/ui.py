"""What the web UI asks of the server: the executions list at 100,000 executions, and the page
of an execution with a 10,000-iteration loop.

    python benchmarks/ui.py [--runs 5] [--scale 1.0]

Prints one JSON object. The app of `noetl ui` (`create_app` over `open_server` with in-process
workers: SQLite log)
is driven in-process through its ASGI interface, lifespan included, so times are server-side:
routing, the guard, the store and JSON, no network. The list is filled through the event store
itself (`append_batches`, 5,000 executions a transaction), each execution started and ended.

- `list_first_page_ms`: GET /executions?limit=50 (what the Executions page loads first); also
  the page 50,000 executions deep by key (`before`), and filtered by status and by playbook.
- `execution_page_s`: what the execution page loads before it draws, for a finished
  10,000-iteration parallel `noop` loop: the page shell, GET /executions/{id}/steps folded from
  the whole log (a fresh server-side cache each run: the first view), GET .../playbook and
  POST /playbooks/check; `steps_first_ms` is that `/steps` alone (a fresh cache each time),
  `steps_cached_ms` a later look (only new events are folded).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from harness import machine, scaled, spread

from noetl.config import Settings
from noetl.engine import events as ev
from noetl.engine.events import Event
from noetl.runtime.assemble import open_server
from noetl.runtime.assembled import ServerRuntime
from noetl.server.app import create_app
from noetl.server.progress import ProgressCache

EXECUTIONS = 100_000
ITERATIONS = 10_000
CHUNK = 5_000
TARGETS = {"list_first_page_ms": 300.0, "execution_page_s": 1.0}
LOOP = """\
apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: bench_ui_loop, path: benchmarks/ui_loop}
workload: {n: 10}
workflow:
  - step: each
    loop:
      in: "{{ range(workload.n) | list }}"
      iterator: item
      spec: {mode: parallel, max_in_flight: 100}
    tool: {kind: noop}
"""


def fake_execution(n: int) -> list[Event]:
    """A started and ended execution: what one row of the list is made of."""
    eid = f"bench{n:09d}"
    path = f"benchmarks/p{n % 20}"
    started = Event(ev.PLAYBOOK_STARTED, eid, payload={"playbook": {"name": "p", "path": path}})
    status = ev.PLAYBOOK_FAILED if n % 10 == 0 else ev.PLAYBOOK_DONE
    return [started, Event(status, eid, payload={"result": n})]


async def fill(store: Any, count: int) -> None:
    for first in range(0, count, CHUNK):
        batch = {}
        for n in range(first, min(first + CHUNK, count)):
            events = fake_execution(n)
            batch[events[0].execution_id] = events
        await store.append_batches(batch)


async def timed(
    client: httpx.AsyncClient, runs: int, *requests: tuple[str, str, Any]
) -> list[float]:
    """Seconds for the `requests` in a row, `runs` times (each answer must be a success)."""
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        for method, url, body in requests:
            answer = await client.request(method, url, json=body)
            assert answer.status_code < 400, f"{url}: {answer.status_code} {answer.text[:200]}"
        times.append(time.perf_counter() - began)
    return times


def ms(values: list[float]) -> dict[str, float]:
    return spread([v * 1000 for v in values])


async def bench_list(
    client: httpx.AsyncClient, runtime: Any, count: int, runs: int
) -> dict[str, Any]:
    began = time.perf_counter()
    await fill(runtime.store, count)
    filled = time.perf_counter() - began
    deep = (
        await client.get("/api/v2/executions", params={"limit": 1, "offset": count // 2})
    ).json()
    before = deep["executions"][0]["execution_id"]
    cases = {
        "first_page": ("GET", "/api/v2/executions?limit=50", None),
        "deep_page_by_key": ("GET", f"/api/v2/executions?limit=50&before={before}", None),
        "failed_first_page": ("GET", "/api/v2/executions?limit=50&status=failed", None),
        "playbook_first_page": ("GET", "/api/v2/executions?limit=50&playbook=benchmarks/p7", None),
    }
    result: dict[str, Any] = {"executions": count, "fill_seconds": round(filled, 3)}
    for name, request in cases.items():
        result[f"{name}_ms"] = ms(await timed(client, runs, request))
    return result


async def bench_execution(
    client: httpx.AsyncClient, app: Any, iterations: int, runs: int
) -> dict[str, Any]:
    began = time.perf_counter()
    started = await client.post(
        "/api/v2/executions", json={"playbook": LOOP, "payload": {"n": iterations}}
    )
    execution_id = started.json()["execution_id"]
    summary = (await client.get(f"/api/v2/executions/{execution_id}", params={"wait": 60})).json()
    while summary["status"] == "running":  # wait is at most 60 s a request
        summary = (
            await client.get(f"/api/v2/executions/{execution_id}", params={"wait": 60})
        ).json()
    assert summary["status"] == "done", summary
    ran = time.perf_counter() - began
    source = (await client.get(f"/api/v2/executions/{execution_id}/playbook")).json()["source"]
    page = [
        ("GET", f"/executions/{execution_id}", None),
        ("GET", f"/api/v2/executions/{execution_id}/steps", None),
        ("GET", f"/api/v2/executions/{execution_id}/playbook", None),
        ("POST", "/api/v2/playbooks/check", {"content": source}),
    ]
    cold = []
    for _ in range(runs):
        app.state.progress = ProgressCache()  # the first view of this execution
        cold += await timed(client, 1, *page)
    first_steps = []
    for _ in range(runs):
        app.state.progress = ProgressCache()  # `/steps` alone, a first view each time
        first_steps += await timed(client, 1, page[1])
    cached = await timed(client, runs, page[1])
    steps = (await client.get(f"/api/v2/executions/{execution_id}/steps")).json()
    loop = steps["steps"]["each"]["runs"][0]["loop"]
    assert loop == {"total": iterations, "done": iterations, "failed": 0}, loop
    return {
        "execution_id": execution_id,
        "iterations": iterations,
        "events": steps["execution"]["last_seq"],
        "run_seconds": round(ran, 3),
        "execution_page_s": spread(cold),
        "steps_first_ms": ms(first_steps),
        "steps_cached_ms": ms(cached),
    }


async def main_async(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    count, iterations = scaled(EXECUTIONS, args.scale), scaled(ITERATIONS, args.scale)
    settings = Settings.load(env={}, home=folder, db=folder / "noetl.db")

    async def opener(settings: Settings) -> ServerRuntime:  # what `noetl ui` serves
        return await open_server(settings, local_workers=settings.workers)

    app = create_app(settings, opener=opener)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            page = await bench_execution(client, app, iterations, args.runs)
            listing = await bench_list(client, app.state.runtime, count, args.runs)
    first, loaded = listing["first_page_ms"]["median"], page["execution_page_s"]["median"]
    return {
        "benchmark": "ui",
        "runs": args.runs,
        "scale": args.scale,
        "machine": machine(),
        "cases": {"list": listing, "execution_page": page},
        "targets": {
            "list_first_page_ms": {
                "target": TARGETS["list_first_page_ms"],
                "measured": first,
                "met": first < TARGETS["list_first_page_ms"],
            },
            "execution_page_s": {
                "target": TARGETS["execution_page_s"],
                "measured": loaded,
                "met": loaded < TARGETS["execution_page_s"],
            },
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--browser", action="store_true", help="also time pages in Chromium")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        result = asyncio.run(main_async(args, Path(folder)))
        if args.browser:
            page = result["cases"]["execution_page"]
            result["cases"]["browser"] = in_browser(Path(folder), page, args.runs)
    json.dump(result, sys.stdout)
    print()


def in_browser(folder: Path, page: dict[str, Any], runs: int) -> dict[str, Any]:
    """Chromium's wall time to a drawn execution page and list, against `noetl ui`."""
    from browser import Browser  # playwright is a dev dependency; only this case needs it

    url = f"/executions/{page['execution_id']}"
    drawn = (
        f'g.node[data-step="each"] text.count >> text="{page["iterations"]}/{page["iterations"]}"'
    )
    with Browser(folder) as browser:
        views = [browser.time_to(url, drawn) for _ in range(runs)]
        lists = [browser.time_to("/", "tbody tr a.mono") for _ in range(runs)]
    return {
        "first_view_s": round(views[0], 6),
        "later_views_s": spread(views[1:] or views),
        "list_page_s": spread(lists),
    }


if __name__ == "__main__":
    main()
