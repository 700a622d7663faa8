"""The web UI: server-rendered page shells, hand-written ES modules, no build step.

Each page is one HTML shell (a Jinja template: header, navigation, an empty `<main>`) and the
ES module of that page, which reads the public REST API and its Server-Sent Event streams (see
`noetl.server.routes.streams`), exactly what any other client could. Shells and assets hold no
data, so they are served without the API token; the page asks for the token when the API
answers 401 and keeps it in the browser session. Templates and assets ship inside the wheel.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from importlib.resources import files
from importlib.resources.abc import Traversable
from urllib.parse import quote

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from noetl import __version__

STATIC = "/ui/static"
# The shared modules each page imports before it runs (preloaded so that the browser fetches
# them at once, not one import after another); what a page loads later is not preloaded.
_BASE = ("ui", "api", "token")
MODULES = {
    "executions": _BASE,
    "execution": (*_BASE, "graph", "events"),
    "playbooks": _BASE,
    "playbook": (*_BASE, "graph", "start", "yaml"),
    "workers": _BASE,
    "credentials": _BASE,
    "missing": ("ui",),
}
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


_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}


class Assets:
    """The static assets, read once and served from memory: a page loads a dozen small
    modules, and a file served through threads (a stat, an open, reads) costs each of them
    tens of milliseconds on a busy machine. Revalidated by ETag (`no-cache`), so a new
    version is picked up at once."""

    def __init__(self, folder: Traversable) -> None:
        self._files: dict[str, tuple[bytes, str, str]] = {}
        self._add(folder, "")

    def _add(self, folder: Traversable, prefix: str) -> None:
        for entry in folder.iterdir():
            if entry.is_dir():
                self._add(entry, f"{prefix}{entry.name}/")
            elif (kind := _TYPES.get("." + entry.name.rpartition(".")[2])) is not None:
                body = entry.read_bytes()
                tag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
                self._files[prefix + entry.name] = (body, kind, tag)

    async def serve(self, path: str, request: Request) -> Response:
        """The asset at `path` (304 when the browser has it), or 404."""
        found = self._files.get(path)
        if found is None:
            raise HTTPException(404, f"no asset {path}")
        body, kind, tag = found
        headers = {"etag": tag, "cache-control": "no-cache"}
        if request.headers.get("if-none-match") == tag:
            return Response(status_code=304, headers=headers)
        return Response(body, media_type=kind, headers=headers)


def install(app: FastAPI, *, open_api: bool = False) -> None:
    """Serve the pages at `/`, `/executions/...`, `/playbooks/...`, `/workers`, `/credentials`
    and their assets under `/ui/static`; other paths outside the API get the not-found page.
    `open_api` (no token): an execution's shell has the browser fetch its first API answers
    while the modules load."""
    assets = Assets(files("noetl.server.ui") / "static")
    app.add_api_route(
        STATIC + "/{path:path}", assets.serve, include_in_schema=False, methods=["GET"]
    )
    routes = {
        "/": "executions",
        "/executions/{execution_id}": "execution",
        "/playbooks": "playbooks",
        "/playbooks/{path:path}": "playbook",
        "/workers": "workers",
        "/credentials": "credentials",
    }
    for path, page in routes.items():
        handler = _page(page, open_api)
        app.add_api_route(path, handler, include_in_schema=False, methods=["GET"])
    app.add_api_route("/{rest:path}", _missing, include_in_schema=False, methods=["GET"])


def render(
    page: str, arg: str = "", status: int = 200, fetches: tuple[str, ...] = ()
) -> HTMLResponse:
    """The HTML shell of `page`; `arg` (an execution id, a playbook path) goes to its module;
    `fetches` are API paths the browser preloads for it."""
    title, nav = PAGES[page]
    html = _ENV.get_template("page.html").render(
        page=page,
        arg=arg,
        title=title,
        nav=nav,
        static=STATIC,
        version=__version__,
        modules=MODULES[page],
        fetches=fetches,
    )
    return HTMLResponse(html, status, headers={"cache-control": "no-cache"})


def _page(page: str, open_api: bool) -> Callable[[Request], Awaitable[HTMLResponse]]:
    async def serve(request: Request) -> HTMLResponse:
        params = request.path_params
        arg = str(params.get("execution_id") or params.get("path") or "")
        return render(page, arg, fetches=_first_fetches(page, arg) if open_api else ())

    serve.__name__ = f"ui_{page}"
    return serve


def _first_fetches(page: str, arg: str) -> tuple[str, ...]:
    """What the execution page asks for first (its steps, its playbook): fetched while its
    modules load, the page's own requests take the answers. Not with a token: the preload
    carries none, and its 401 would read as a wrong token."""
    if page != "execution":
        return ()
    base = f"/api/v2/executions/{quote(arg, safe='')}"
    return (f"{base}/steps", f"{base}/playbook")


async def _missing(rest: str) -> HTMLResponse:
    if rest.startswith("api/"):  # an API client gets the API's JSON 404
        raise HTTPException(404, f"no route /{rest}")
    return render("missing", "/" + rest, status=404)
