"""NoETL python conventions -> the canonical python task.

* `libs: {alias: module}` -> `import module as alias` lines before the code;
* code with a top-level `return` -> the code wrapped in `def main(**_)`;
* `input_data` (the task's whole input) and `context` read but not given -> args providing them;
* `script: {uri, source: {type: file}}` -> the file's text as `code` (read when importing);
  inline `script.source.code` likewise. Scripts fetched from cloud storage are refused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from noetl.dsl.check import DocPath
from noetl.dsl.importer.context import Conversion
from noetl.dsl.templates import RENDERER
from noetl.errors import TemplateError

_RETURN_OUTSIDE = "'return' outside function"


def _identifier(name: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w.]){name}(?!\w)")


_INPUT_DATA = _identifier("input_data")
_CONTEXT = _identifier("context")


def convert_python(out: dict[str, Any], old: DocPath, new: DocPath, conv: Conversion) -> None:
    """Rewrite the python task `out` (already renamed) in place."""
    script = out.pop("script", None)
    if script is not None:
        code = _script(script, (*old, "script"), conv)
        if code is not None and "code" not in out:
            out["code"] = code
            conv.place((*new, "code"), (*old, "script"))
            conv.note((*new, "code"), "from NoETL 'script' (the file's text, read on import)")
    code = out.get("code")
    if not isinstance(code, str):
        return
    libs = out.pop("libs", None)
    if isinstance(libs, Mapping):
        imports = _imports(libs, (*old, "libs"), conv)
        code = "\n".join(imports) + "\n" + code
        conv.note(
            (*new, "code"),
            f"NoETL 'libs' became import lines (error lines shift by {len(imports)})",
        )
    elif isinstance(libs, list):
        conv.note(
            (*new, "code"),
            "NoETL 'libs' packages ("
            + ", ".join(map(str, libs))
            + ") must be installed on the workers; the code imports them itself",
        )
    elif libs is not None:
        conv.refuse((*old, "libs"), "'libs' must map an alias to a module, or list packages")
    code = _wrap_return(code, (*new, "code"), conv)
    out["code"] = code
    args = out.setdefault("args", {})
    if isinstance(args, dict):
        if _INPUT_DATA.search(code) and "input_data" not in args:
            args["input_data"] = dict(args)
            conv.note((*new, "args"), "'input_data' (the whole input) made explicit")
        if _CONTEXT.search(code) and "context" not in args:
            args["context"] = {
                "execution_id": "{{ execution_id }}",
                "workload": "{{ workload }}",
                "ctx": "{{ ctx }}",
            }
            conv.note((*new, "args"), "NoETL's 'context' given as execution_id, workload, ctx")


def _imports(libs: Mapping[str, Any], old: DocPath, conv: Conversion) -> list[str]:
    """`alias: module` -> `import module as alias`; `alias: {from, import}` -> `from ... import
    ... as alias`."""
    lines = []
    for alias, module in libs.items():
        if isinstance(module, str):
            lines.append(f"import {module} as {alias}")
        elif isinstance(module, Mapping) and {"from", "import"} <= set(module):
            lines.append(f"from {module['from']} import {module['import']} as {alias}")
        else:
            conv.refuse((*old, alias), "a 'libs' entry is a module name or {from, import}")
    return lines


def _wrap_return(code: str, new: DocPath, conv: Conversion) -> str:
    """Code whose top level returns a value runs as the body of `main`."""
    try:
        compile(code, "<python task>", "exec")  # the symbol table, not the parser, finds it
        return code
    except SyntaxError as err:
        if err.msg != _RETURN_OUTSIDE:
            return code  # the python tool reports the syntax error when it runs
    body = "\n".join(("    " + line) if line.strip() else line for line in code.splitlines())
    conv.note(new, "top-level 'return': the code runs as the body of main()")
    return f"def main(**_args):\n{body}\n"


def script_text(script: Any, old: DocPath, conv: Conversion) -> str | None:
    """The text of a NoETL `script` (a local file, or inline code); None when refused."""
    return _script(script, old, conv)


def _script(script: Any, old: DocPath, conv: Conversion) -> str | None:
    if not isinstance(script, Mapping):
        conv.refuse(old, "'script' must be a mapping with uri and source")
        return None
    source = script.get("source") or {}
    kind = source.get("type") if isinstance(source, Mapping) else None
    if isinstance(source, Mapping) and isinstance(source.get("code"), str):
        return str(source["code"])
    if kind != "file":
        conv.refuse(
            (*old, "source"),
            f"cannot import a script from source type {kind!r}; "
            "only 'file' and inline 'code' are supported",
        )
        return None
    uri = script.get("uri")
    if not isinstance(uri, str):
        conv.refuse((*old, "uri"), "'script.uri' must be a file path")
        return None
    if conv.source_dir is None:
        # Text handed over (a request to a server, a catalog entry) must not read the files of
        # the machine that loads it: the file is the author's, on the author's machine.
        conv.refuse(
            (*old, "uri"),
            f"script file '{uri}' is read only when the playbook is loaded from a local file; "
            "convert it there with `noetl import` (the file's code is written into the step)",
        )
        return None
    if "{{" in uri:
        try:
            uri = str(RENDERER.render(uri, {"workload": conv.workload}, where="script.uri"))
        except TemplateError as err:
            conv.refuse((*old, "uri"), f"'script.uri' must be a path or read only workload: {err}")
            return None
    path = _find(uri, conv.source_dir)
    if path is None:
        conv.refuse(
            (*old, "uri"),
            f"script file '{uri}' not found (looked in the working "
            "directory, next to the playbook and under its parent folders)",
        )
        return None
    return path.read_text(encoding="utf-8")


def _find(uri: str, source_dir: Path) -> Path | None:
    """The script file: as given (from the working directory), else next to the playbook, else
    below one of the playbook's parent folders (NoETL resolves `uri` from the root of the
    repository it runs in, e.g. `./fixtures/playbooks/x/scripts/a.sql`)."""
    candidates = [Path(uri)]
    if not Path(uri).is_absolute():
        folder = source_dir.resolve()
        candidates += [parent / uri for parent in (folder, *folder.parents)]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    return None
