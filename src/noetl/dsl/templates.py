"""Templating: render playbook values with sandboxed Jinja2.

A value that is exactly one `{{ expression }}` yields the expression's native value (int, list,
dict, None...); any other template renders to a string; a string without template markers is
returned as it is. Nested dicts/lists/tuples are rendered in one call. Compiled templates are
cached by their text, because the engine renders the same few templates over and over.

Failures never fall back to the raw text: they raise `noetl.errors.TemplateError`, naming the
missing name, the caller's location (`where`) and the template. The Jinja environment they run
in, sandboxed and budgeted, is `noetl.dsl.sandbox`'s.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping
from functools import _lru_cache_wrapper, lru_cache
from types import GeneratorType
from typing import Any, Protocol

from jinja2 import Template, Undefined, meta, nodes
from jinja2.environment import TemplateExpression
from jinja2.exceptions import SecurityError, TemplateSyntaxError, UndefinedError
from markupsafe import Markup

from noetl.dsl.budget import Budget, check_size
from noetl.dsl.sandbox import sandbox
from noetl.errors import TemplateError

__all__ = ["RENDERER", "JinjaRenderer", "is_template", "syntax_error"]

DEFAULT_CACHE_SIZE = 4096

# Jinja nodes that build new containers: only their results can hold an Undefined value inside
# (e.g. `{{ [missing] }}`), so only those results are scanned for one.
_BUILDING_NODES = (nodes.List, nodes.Dict, nodes.Tuple, nodes.Call)


def is_template(value: Any) -> bool:
    """True when `value` is a string holding Jinja markers (`{{` or `{%`)."""
    return isinstance(value, str) and ("{{" in value or "{%" in value)


class Compiled(Protocol):
    """A compiled template, ready to evaluate against a scope."""

    text: str

    def evaluate(self, scope: Mapping[str, Any]) -> Any:
        """The rendered value; Jinja exceptions propagate untranslated."""
        ...


class _TextTemplate:
    """A template mixing text and tags: renders to a string."""

    __slots__ = ("template", "text")

    def __init__(self, text: str, template: Template) -> None:
        self.text = text
        self.template = template

    def evaluate(self, scope: Mapping[str, Any]) -> Any:
        parts, size = [], 0
        for part in self.template.generate(scope):  # the output is bounded as it grows
            size += len(part)
            check_size(size, "the rendered text")
            parts.append(part)
        return "".join(parts)


class _NativeExpression:
    """A template that is exactly one `{{ expression }}`: yields the native value."""

    __slots__ = ("builds_containers", "expression", "text")

    def __init__(self, text: str, expression: TemplateExpression, builds_containers: bool) -> None:
        self.text = text
        self.expression = expression
        self.builds_containers = builds_containers

    def evaluate(self, scope: Mapping[str, Any]) -> Any:
        value = self.expression(scope)
        if isinstance(value, Undefined):
            # A bare missing name (or a sandbox refusal) comes back as an Undefined object
            # instead of raising: make it raise, as it would when rendered to text.
            value._fail_with_undefined_error()
        if isinstance(value, GeneratorType):
            # `select`, `map`... return one-shot generators; a value stored in an event must be
            # data, so materialise it (what `| list` would do).
            value = list(value)
        if self.builds_containers:
            _reject_nested_undefined(value)
        if isinstance(value, Markup):  # `tojson` returns Markup; callers want a plain str
            return str(value)
        return value


def _reject_nested_undefined(value: Any) -> None:
    """Raise if a container built by the expression holds an Undefined (`{{ [missing] }}`)."""
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    elif isinstance(value, dict):
        for key, item in value.items():
            _reject_nested_undefined(key)
            _reject_nested_undefined(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _reject_nested_undefined(item)


class JinjaRenderer:
    """Renders template values against a scope; satisfies `noetl.engine.definition.Renderer`."""

    def __init__(self, *, cache_size: int = DEFAULT_CACHE_SIZE) -> None:
        self._env = sandbox()
        self._compiled: _lru_cache_wrapper[Compiled] = lru_cache(maxsize=cache_size)(self._compile)
        # The control plane asks which names a template reads on every render of it.
        self._names_of = lru_cache(maxsize=cache_size)(self._read_names)
        self._required_of = lru_cache(maxsize=cache_size)(self._read_required)

    def render(self, value: Any, scope: Mapping[str, Any], *, where: str = "") -> Any:
        """Render `value`: a template string, or dicts/lists/tuples nesting them.

        Containers are rebuilt (dict keys are not rendered, the input is never mutated); values
        that are neither strings nor containers are returned unchanged. Raises `TemplateError`.
        """
        if isinstance(value, str):
            return self._render_text(value, scope, where) if is_template(value) else value
        if isinstance(value, Mapping):
            return {key: self.render(item, scope, where=where) for key, item in value.items()}
        if isinstance(value, list):
            return [self.render(item, scope, where=where) for item in value]
        if isinstance(value, tuple):
            return tuple(self.render(item, scope, where=where) for item in value)
        return value

    def compile(self, text: str) -> Compiled:
        """The compiled form of `text`, from the cache when seen before.

        Raises `jinja2.TemplateSyntaxError` (untranslated: `render` and `syntax_error` add context).
        """
        return self._compiled(text)

    def cache_info(self) -> Any:
        """Hit/miss/size counters of the compiled-template cache (`functools.lru_cache` info)."""
        return self._compiled.cache_info()

    def names(self, value: Any) -> set[str]:
        """Root names the templates in `value` (a string or nested structure) read."""
        found: set[str] = set()
        if isinstance(value, str):
            if is_template(value):
                found |= self._names_of(value)
        elif isinstance(value, Mapping):
            for item in value.values():
                found |= self.names(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                found |= self.names(item)
        return found

    def required_names(self, text: str) -> frozenset[str]:
        """Root names `text` reads that must exist for it to render: its names, less those
        it only tests (`x is defined`) or gives a fallback (`x | default(...)`), which render
        without the name (empty for a text that does not compile)."""
        return self._required_of(text) if is_template(text) else frozenset()

    def _read_required(self, text: str) -> frozenset[str]:
        with contextlib.suppress(TemplateSyntaxError):
            tree = self._env.parse(text)
            return frozenset(meta.find_undeclared_variables(tree)) - _guarded_names(tree)
        return frozenset()

    def _read_names(self, text: str) -> frozenset[str]:
        # A syntax error is reported by validation and again when rendering.
        with contextlib.suppress(TemplateSyntaxError):
            return frozenset(meta.find_undeclared_variables(self._env.parse(text)))
        return frozenset()

    def syntax_error(self, text: str) -> tuple[int, str] | None:
        """`(line inside the template, message)` when `text` does not compile, else None."""
        if not is_template(text):
            return None
        try:
            self.compile(text)
        except TemplateSyntaxError as exc:
            return exc.lineno, exc.message or str(exc)
        return None

    def _render_text(self, text: str, scope: Mapping[str, Any], where: str) -> Any:
        try:
            with Budget():
                return self.compile(text).evaluate(scope)
        except Exception as exc:  # every failure becomes a TemplateError; none is swallowed
            raise self._translate(exc, text, scope, where) from exc

    def _compile(self, text: str) -> Compiled:
        tree = self._env.parse(text)  # syntax errors carry the line inside the whole text
        expression = _lone_expression(self._env.lex(text))
        if expression is None:
            return _TextTemplate(text, self._env.from_string(text))
        compiled = self._env.compile_expression(expression, undefined_to_none=False)
        builds = any(True for _ in tree.find_all(_BUILDING_NODES))
        return _NativeExpression(text, compiled, builds)

    def _translate(
        self, exc: Exception, text: str, scope: Mapping[str, Any], where: str
    ) -> TemplateError:
        """The TemplateError saying what went wrong with `text`."""
        if isinstance(exc, TemplateSyntaxError):
            message = f"template syntax error: {exc.message or exc} (line {exc.lineno})"
        elif isinstance(exc, SecurityError):
            message = f"access refused by the sandbox: {exc}"
        elif isinstance(exc, UndefinedError):
            path = self._missing_path(text, scope, str(exc))
            message = f"undefined name '{path}'" if path else str(exc)
        else:
            message = f"{type(exc).__name__}: {exc}"
        return TemplateError(message, template=text, where=where)

    def _missing_path(self, text: str, scope: Mapping[str, Any], message: str) -> str | None:
        """The dotted name (`a`, `a.x`, `a.items[0]`) a failed render could not resolve.

        Runs only on the error path: re-parses `text` and follows each name path of the
        template through `scope` until one is missing and matches Jinja's message.
        """
        tree = self._env.parse(text)
        free = meta.find_undeclared_variables(tree)  # loop variables, `set` names excluded
        for path in _name_paths(tree):
            if path[0] not in free:
                continue
            missing = _first_missing(path, scope, self._env.globals)
            if missing is not None and repr(missing[-1]) in message:
                return _dotted(missing)
        return None


_GUARD_TESTS = frozenset({"defined", "undefined"})
_GUARD_FILTERS = frozenset({"default", "d"})


def _guarded_names(tree: nodes.Template) -> set[str]:
    """Names the template tests for (`x is defined`) or defaults (`x | default(1)`): such a
    bare name may be missing at render time."""
    guarded = set()
    for node in tree.find_all((nodes.Test, nodes.Filter)):
        names = _GUARD_TESTS if isinstance(node, nodes.Test) else _GUARD_FILTERS
        if node.name in names and isinstance(node.node, nodes.Name):
            guarded.add(node.node.name)
    return guarded


def _lone_expression(tokens: Iterator[tuple[int, str, str]]) -> str | None:
    """The expression source when the tokens are exactly one `{{ ... }}` (whitespace around)."""
    before: list[tuple[str, str]] = []
    inside: list[str] = []
    after: list[tuple[str, str]] = []
    state = "before"
    for _, kind, value in tokens:
        if kind == "variable_begin":
            if state != "before":
                return None
            state = "inside"
        elif kind == "variable_end":
            state = "after"
        elif state == "inside":
            inside.append(value)
        else:
            (before if state == "before" else after).append((kind, value))
    if state != "after":
        return None
    outside = before + after
    if any(kind != "data" or value.strip() for kind, value in outside):
        return None
    return "".join(inside)


def _name_paths(tree: nodes.Template) -> Iterator[tuple[Any, ...]]:
    """Every `name.attr[key]...` path of the template, as tuples of segments."""
    for node in tree.find_all((nodes.Name, nodes.Getattr, nodes.Getitem)):
        segments: list[Any] = []
        current: nodes.Node = node
        while True:
            if isinstance(current, nodes.Name):
                yield (current.name, *reversed(segments))
                break
            if isinstance(current, nodes.Getattr):
                segments.append(current.attr)
            elif isinstance(current, nodes.Getitem) and isinstance(current.arg, nodes.Const):
                segments.append(current.arg.value)
            else:
                break  # a computed base (`(a | first).x`): no name to report
            current = current.node


def _first_missing(
    path: tuple[Any, ...], scope: Mapping[str, Any], globals_: Mapping[str, Any]
) -> tuple[Any, ...] | None:
    """The shortest prefix of `path` that does not resolve in `scope`, or None."""
    root = path[0]
    if root in scope:
        value = scope[root]
    elif root in globals_:
        value = globals_[root]
    else:
        return path[:1]
    for depth, segment in enumerate(path[1:], start=2):
        found, value = _lookup(value, segment)
        if not found:
            return path[:depth]
    return None


_MISSING = object()


def _lookup(value: Any, segment: Any) -> tuple[bool, Any]:
    """Resolve one segment the way Jinja does (key/index, then public attribute)."""
    if isinstance(value, Mapping) and segment in value:
        return True, value[segment]
    if isinstance(value, list | tuple) and isinstance(segment, int):
        return (True, value[segment]) if -len(value) <= segment < len(value) else (False, None)
    if isinstance(segment, str) and not segment.startswith("_"):
        attribute = getattr(value, segment, _MISSING)
        return attribute is not _MISSING, attribute
    return False, None


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _dotted(path: tuple[Any, ...]) -> str:
    """`('a', 'x', 0, 'b-c')` -> `a.x[0]['b-c']`."""
    text = str(path[0])
    for segment in path[1:]:
        is_name = isinstance(segment, str) and _IDENTIFIER.match(segment)
        text += f".{segment}" if is_name else f"[{segment!r}]"
    return text


RENDERER = JinjaRenderer()
"""The default renderer shared by every playbook."""


def syntax_error(text: str) -> tuple[int, str] | None:
    """`(1-based line inside the template, message)` when `text` does not compile, else None."""
    return RENDERER.syntax_error(text)
