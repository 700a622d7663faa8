"""The Jinja environment templates run in: sandboxed, immutable, and budgeted.

Mapping keys win over mapping methods in `a.b` (a data DSL reads `workload.items` as the key);
every `for` loops through `budget.counted`, and the operators, calls, filters and globals that
could take unbounded time or memory in one step are checked first (`noetl.dsl.budget`). The
rendering itself is `noetl.dsl.templates`'s.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from jinja2 import StrictUndefined, nodes
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from noetl.dsl.budget import (
    check_format,
    check_power,
    check_repeat,
    check_size,
    check_time,
    counted,
)


def sandbox() -> Sandbox:
    """A new environment for playbook templates: strict about undefined names, no escaping,
    `fromjson` added, the budget installed."""
    env = Sandbox(
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,  # text around the tags is kept exactly as written
    )
    env.filters["fromjson"] = _fromjson
    _install_budget(env)
    return env


def _fromjson(text: Any) -> Any:
    """Jinja filter: parse a JSON string (the inverse of `tojson`)."""
    if not isinstance(text, str | bytes | bytearray):
        raise TypeError(f"fromjson expects a JSON string, got {type(text).__name__}")
    return json.loads(text)


class Sandbox(ImmutableSandboxedEnvironment):
    """The sandbox, with mapping keys winning over mapping methods in `a.b`, and a budget.

    Jinja looks `a.b` up as an attribute first, so `workload.items` would be the dict's `items`
    method; in a data DSL it must be the `items` key. Key values are data (the sandbox's own
    `a['b']` returns them as they are); everything else goes through the sandbox's checks.

    Every `for` loops through `budget.counted`, and the operators, calls and format strings
    that could take unbounded time or memory in one step are checked first (`noetl.dsl.budget`).
    """

    intercepted_binops = frozenset({"*", "**", "%"})

    def getattr(self, obj: Any, attribute: str) -> Any:
        """`obj.attribute`: a mapping's key when it has one, else the sandbox's attribute."""
        if isinstance(obj, Mapping) and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        """`*`, `**` and `%`, checked against the budget first."""
        check_time()
        if operator == "*":
            check_repeat(left, right)
        elif operator == "**":
            check_power(left, right)
        else:
            check_format(left)
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        """A call, once the step's time budget allows it."""
        check_time()
        return super().call(__context, __obj, *args, **kwargs)

    def wrap_str_format(self, value: Any) -> Any:
        """`str.format` / `format_map`, the format string checked first."""
        wrapped = super().wrap_str_format(value)
        if wrapped is not None:
            check_format(value.__self__)
        return wrapped

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            loop.iter = nodes.Filter(loop.iter, _COUNTED, [], [], None, None, lineno=loop.lineno)
        return tree


_COUNTED = "noetl_counted"  # the filter every `for` loops through (not a name users can type)


def _install_budget(env: Sandbox) -> None:
    """Register the loop counter and bound the filters and globals whose arguments decide how
    much they build."""
    env.filters[_COUNTED] = counted
    center, indent, fmt, slices = (env.filters[n] for n in ("center", "indent", "format", "slice"))

    def bounded_center(value: Any, width: int = 80) -> Any:
        check_size(width, "a center width")
        return center(value, width)

    def bounded_indent(value: Any, width: Any = 4, *args: Any, **kwargs: Any) -> Any:
        lines = str(value).count("\n") + 1
        check_size(lines * (width if isinstance(width, int) else len(str(width))), "an indent")
        return indent(value, width, *args, **kwargs)

    def bounded_format(value: Any, *args: Any, **kwargs: Any) -> Any:
        check_format(value)
        return fmt(value, *args, **kwargs)

    def bounded_slice(value: Any, count: int, *args: Any) -> Any:
        check_size(count, "a slice count")
        return slices(value, count, *args)

    env.filters.update(
        center=bounded_center, indent=bounded_indent, format=bounded_format, slice=bounded_slice
    )
    lipsum: Any = env.globals["lipsum"]

    def bounded_lipsum(n: int = 5, *args: Any, **kwargs: Any) -> Any:
        check_size(n * 1000, "lipsum")
        return lipsum(n, *args, **kwargs)

    env.globals["lipsum"] = bounded_lipsum
