"""The `python` tool: result, main(**args), bound args, errors with user line numbers."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from noetl.errors import ToolError
from noetl.tools import python as python_tool
from noetl.tools import threads
from noetl.tools.python import PythonTool
from noetl.tools.threads import run_in_thread
from support.tools import tool_context


def run(code: Any, **args: Any) -> Any:
    ctx = tool_context()
    return asyncio.run(PythonTool().run({"code": code, "args": args}, ctx))


def test_assigned_result_with_args_bound_as_variables():
    assert run("result = {'sum': a + b}", a=1, b=2) == {"sum": 3}


def test_main_is_called_with_the_args():
    code = (
        "def helper(x):\n"
        "    return x * k\n"
        "\n"
        "def main(k, items):\n"
        "    return [helper(i) for i in items]"
    )
    assert run(code, k=10, items=[1, 2]) == [10, 20]


def test_no_result_and_no_main_gives_none():
    assert run("x = 1") is None


def test_code_runs_outside_the_event_loop_thread():
    main_thread = threading.get_ident()
    assert run("import threading\nresult = threading.get_ident()") != main_thread


def test_exception_names_type_message_and_user_line():
    with pytest.raises(ToolError) as info:
        run("a = 1\nb = 0\nc = a / b\nresult = c")
    assert info.value.kind == "python"
    assert info.value.message == "ZeroDivisionError: division by zero (line 3)"
    assert info.value.retryable is False


def test_line_is_the_deepest_user_frame():
    code = "def inner(d):\n    return d['missing']\n\nresult = inner({})"
    with pytest.raises(ToolError, match=r"^KeyError: 'missing' \(line 2\)$"):
        run(code)


def test_syntax_error_has_its_line():
    with pytest.raises(ToolError) as info:
        run("x = 1\nif x\n    pass")
    assert info.value.kind == "python"
    assert info.value.message.startswith("SyntaxError: ")
    assert info.value.message.endswith("(line 2)")


def test_exit_in_user_code_is_an_error_not_a_worker_exit():
    with pytest.raises(ToolError, match="SystemExit"):
        run("raise SystemExit(3)")


def test_main_with_wrong_signature_is_an_error():
    with pytest.raises(ToolError, match=r"TypeError: .*unexpected keyword argument 'z'"):
        run("def main():\n    return 1", z=1)


def test_code_must_be_a_string():
    with pytest.raises(ToolError) as info:
        run(None)
    assert info.value.kind == "config"
    assert "step 's' task 't'" in info.value.message


def test_each_code_text_is_compiled_once():
    code = "result = n * 7  # compiled once"
    before = python_tool._compile.cache_info()
    assert run(code, n=1) == 7
    assert run(code, n=2) == 14
    after = python_tool._compile.cache_info()
    assert after.misses - before.misses == 1
    assert after.hits - before.hits == 1


def test_runs_do_not_share_state():
    assert run("result = globals().get('leak')") is None
    run("leak = 1")
    assert run("result = globals().get('leak')") is None


@pytest.mark.parametrize(
    ("code", "on_the_loop"),
    [
        ("result = 1", True),
        ("result = {'id': row['id'], 'tags': [a, b]}", True),
        ("result = x['a'] if x is not None else (y or z)", True),
        ("result = not a", True),
        ("result = len(a)", False),  # a call: anything may run
        ("result = a.b", False),  # an attribute: a property may run code
        ("result = a + b", False),  # operators can grow values (a = a + a)
        ("result = a * 3", False),
        ("result = a == b", False),
        ("result = a[1:]", False),  # slices can grow lists (a[:0] = a)
        ("result = [*a, *a]", False),
        ("result = (a, b)", False),
        ("result = f'{a}'", False),
        ("result = [i for i in a]", False),
        ("while True:\n    pass", False),
        ("import os", False),
        ("def main():\n    return 1", False),
    ],
)
def test_only_code_that_moves_data_runs_on_the_event_loop(code: str, on_the_loop: bool):
    assert python_tool._compile(code)[1] is on_the_loop


def test_code_that_moves_data_needs_no_free_thread_and_code_that_calls_waits_for_one():
    """With every task thread busy, a snippet that only moves data still returns at once; a
    snippet that calls something waits for a thread, and runs once one is free."""
    release = threading.Event()
    ctx = tool_context()

    async def main() -> tuple[Any, bool, Any]:
        waits = [run_in_thread(lambda: release.wait(10)) for _ in range(threads.LIMIT)]
        busy = [asyncio.ensure_future(wait) for wait in waits]
        await asyncio.sleep(0.05)  # every thread taken
        tool = PythonTool()
        moved = await asyncio.wait_for(
            tool.run({"code": "result = {'v': x['v']}", "args": {"x": {"v": 7}}}, ctx), 5
        )
        calling = asyncio.ensure_future(tool.run({"code": "result = len('abc')"}, ctx))
        await asyncio.sleep(0.2)
        waited = not calling.done()
        release.set()
        await asyncio.gather(*busy)
        return moved, waited, await calling

    assert asyncio.run(main()) == ({"v": 7}, True, 3)


def test_a_main_left_by_code_that_moves_data_is_still_called():
    assert run("main = dict", a=1, b=2) == {"a": 1, "b": 2}
    with pytest.raises(ToolError) as info:
        run("result = x['missing']", x={})
    assert info.value.message == "KeyError: 'missing' (line 1)"
