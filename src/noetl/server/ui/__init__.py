"""The web UI: server-rendered page shells, hand-written ES modules, no build step.

Each page is one HTML shell (a Jinja template: header, navigation, an empty `<main>`) and the
ES module of that page, which reads the public REST API and its Server-Sent Event streams (see
`noetl.server.routes.streams`), exactly what any other client could. Shells and assets hold no
data, so they are served without the API token; the page asks for the token when the API
answers 401 and keeps it in the browser session. Templates and assets ship inside the wheel.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from importlib.resources import files

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, select_autoescape

from noetl import __version__

STATIC = "/ui/static"
# The shared modules every page imports (preloaded so the browser fetches them at once).
MODULES = ("ui", "api", "token", "graph", "events", "timeline", "start", "yaml")
_ENV = Environment(
    loader=PackageLoader("noetl.server.ui", "templates"),
    autoescape=select_autoescape(["html"]),
)
# (title, navigation entry) of each page module in static/js/pages/
PAGES = {
    "executions": ("Executions", "executions"),
    "execution": ("Execution", "executions"),
    "playbooks": ("Playbooks", "playbooks"),
    "playbook": ("Playbook", "playbooks"),
    "workers": ("Workers", "workers"),
    "credentials": ("Credentials", "credentials"),
    "missing": ("Not found", ""),
}


def install(app: FastAPI) -> None:
    """Serve the pages at `/`, `/executions/...`, `/playbooks/...`, `/workers`, `/credentials`
    and their assets under `/ui/static`; other paths outside the API get the not-found page."""
    static = files("noetl.server.ui") / "static"
    app.mount(STATIC, StaticFiles(directory=str(static)), name="ui-static")
    routes = {
        "/": "executions",
        "/executions/{execution_id}": "execution",
        "/playbooks": "playbooks",
        "/playbooks/{path:path}": "playbook",
        "/workers": "workers",
        "/credentials": "credentials",
    }
    for path, page in routes.items():
        app.add_api_route(path, _page(page), include_in_schema=False, methods=["GET"])
    app.add_api_route("/{rest:path}", _missing, include_in_schema=False, methods=["GET"])


def render(page: str, arg: str = "", status: int = 200) -> HTMLResponse:
    """The HTML shell of `page`; `arg` (an execution id, a playbook path) goes to its module."""
    title, nav = PAGES[page]
    html = _ENV.get_template("page.html").render(
        page=page,
        arg=arg,
        title=title,
        nav=nav,
        static=STATIC,
        version=__version__,
        modules=MODULES,
    )
    return HTMLResponse(html, status, headers={"cache-control": "no-cache"})


def _page(page: str) -> Callable[[Request], Awaitable[HTMLResponse]]:
    async def serve(request: Request) -> HTMLResponse:
        params = request.path_params
        return render(page, str(params.get("execution_id") or params.get("path") or ""))

    serve.__name__ = f"ui_{page}"
    return serve


async def _missing(rest: str) -> HTMLResponse:
    if rest.startswith("api/"):  # an API client gets the API's JSON 404
        raise HTTPException(404, f"no route /{rest}")
    return render("missing", "/" + rest, status=404)
