"""The UI's page shells preload exactly the modules each page imports before it runs."""

from __future__ import annotations

import re
from importlib.resources import files

from noetl.server.ui import MODULES, PAGES

STATIC_IMPORT = re.compile(r'^import .* from "\.{1,2}/(\w+)\.js";$', re.MULTILINE)
JS = files("noetl.server.ui") / "static" / "js"


def imports(source: str) -> set[str]:
    return set(STATIC_IMPORT.findall(source))


def test_each_page_preloads_the_modules_it_imports_and_no_others() -> None:
    assert set(MODULES) == set(PAGES)
    for page, preloaded in MODULES.items():
        needed: set[str] = set()
        pending = imports((JS / "pages" / f"{page}.js").read_text(encoding="utf-8"))
        while pending:
            module = pending.pop()
            if module not in needed:
                needed.add(module)
                pending |= imports((JS / f"{module}.js").read_text(encoding="utf-8"))
        assert set(preloaded) == needed, page
