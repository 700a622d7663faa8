"""Templating: native values, text rendering, strict undefined, sandbox, caching, nesting."""

import copy
import math
from types import MappingProxyType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from noetl.config import Settings
from noetl.dsl import budget
from noetl.dsl.templates import RENDERER, JinjaRenderer, is_template, syntax_error
from noetl.errors import TemplateError

SCOPE = MappingProxyType(
    {
        "workload": MappingProxyType(
            {
                "cities": [{"name": "Paris", "max": 30}, {"name": "Oslo", "max": 12}],
                "threshold": 25,
                "api": "http://localhost:8080",
            }
        ),
        "ctx": {},
        "iter": {"city": {"name": "Paris", "lat": 48.85}, "index": 0},
        "fetch": {"results": [{"max": 30}, {"max": 20}]},
    }
)


def render(value, scope=SCOPE, where=""):
    return RENDERER.render(value, scope, where=where)


def failure(value, scope=SCOPE, where="step 'fetch' task 'get' field 'url'") -> TemplateError:
    with pytest.raises(TemplateError) as info:
        render(value, scope, where)
    return info.value


# -- native values ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("{{ 42 }}", 42),
        ("{{ workload.threshold }}", 25),
        ("{{ 2.5 }}", 2.5),
        ("{{ true }}", True),
        ("{{ workload.threshold > 30 }}", False),
        ("{{ none }}", None),
        ("{{ [1, 'a'] }}", [1, "a"]),
        ("{{ {'a': [1, {'b': none}]} }}", {"a": [1, {"b": None}]}),
        ("{{ iter.city }}", {"name": "Paris", "lat": 48.85}),
        ("{{ 'a' ~ 1 }}", "a1"),
        ("  {{ workload.threshold }}\n", 25),  # whitespace around the expression is allowed
        ("{{- 7 -}}", 7),
        ("{{ '}}' }}", "}}"),  # the closing marker inside a string literal
        ("{{ {'a': {'b': 1}} }}", {"a": {"b": 1}}),  # `}}` of nested dict literals
        ("{{\n  1 +\n  2\n}}", 3),
    ],
)
def test_a_lone_expression_yields_the_native_value(text, expected):
    result = render(text)
    assert result == expected
    assert type(result) is type(expected)


def test_a_lone_expression_returns_the_scope_object_itself():
    cities = SCOPE["workload"]["cities"]
    assert render("{{ workload.cities }}") is cities


def test_mapping_keys_win_over_mapping_methods():
    scope = {"workload": MappingProxyType({"items": [1, 2], "keys": "k", "get": 3})}
    assert render("{{ workload.items }}", scope) == [1, 2]
    assert render("{{ workload.keys }}-{{ workload.get }}", scope) == "k-3"
    assert render("{{ iter.get('index') }}") == 0  # methods still work when no key hides them
    assert render("{{ iter.city.items() | list | length }}") == 2


def test_filters_work_on_native_values():
    hot = "{{ fetch.results | selectattr('max', 'gt', workload.threshold) | list }}"
    assert render(hot) == [{"max": 30}]
    assert render(hot + " ") == [{"max": 30}]
    assert render("{{ fetch.results | selectattr('max', 'gt', 25) | list | length > 0 }}") is True
    assert render("{{ workload.cities | length }}") == 2
    assert render("{{ missing | default('fallback') }}") == "fallback"
    assert render("{{ ctx.nothing | default(3) }}") == 3


def test_a_generator_result_becomes_a_list():
    assert render("{{ workload.cities | map(attribute='name') }}") == ["Paris", "Oslo"]


def test_tojson_gives_a_plain_str_and_fromjson_parses():
    dumped = render("{{ iter.city | tojson }}")
    assert type(dumped) is str
    assert render("{{ text | fromjson }}", {"text": dumped}) == {"name": "Paris", "lat": 48.85}
    error = failure("{{ iter.city | fromjson }}")
    assert "TypeError: fromjson expects a JSON string, got dict" in str(error)


# -- text rendering -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("{{ workload.api }}/forecast", "http://localhost:8080/forecast"),
        ("{{ workload.threshold }}{{ workload.threshold }}", "2525"),
        ("n={{ workload.threshold }}", "n=25"),
        ("{% if workload.threshold > 5 %}{{ 1 }}{% endif %}", "1"),
        ("{% for c in workload.cities %}{{ c.name }},{% endfor %}", "Paris,Oslo,"),
        ("{# note #}{{ 1 }}", "1"),  # a comment is "other text": not a lone expression
        ("line {{ 1 }}\n", "line 1\n"),  # the trailing newline is kept
    ],
)
def test_anything_else_renders_to_a_string(text, expected):
    assert render(text) == expected


def test_strings_without_markers_are_returned_as_they_are():
    text = "plain {text} with } and { but no markers"
    assert render(text) is text
    assert not is_template(text)
    assert is_template("{{ x }}")
    assert is_template("{% if x %}{% endif %}")
    assert not is_template(42)


# -- nested structures --------------------------------------------------------------------------


def test_nested_structures_are_rendered_in_one_call_into_new_containers():
    value = {
        "url": "{{ workload.api }}/forecast",
        "params": {"lat": "{{ iter.city.lat }}", "tags": ["{{ iter.index }}", "x", 3]},
        "pair": ("{{ true }}", None),
        "{{ key }}": "keys are not rendered",
    }
    before = copy.deepcopy(value)
    result = render(value)
    assert result == {
        "url": "http://localhost:8080/forecast",
        "params": {"lat": 48.85, "tags": [0, "x", 3]},
        "pair": (True, None),
        "{{ key }}": "keys are not rendered",
    }
    assert value == before  # input not mutated
    assert result is not value
    assert result["params"] is not value["params"]
    assert result["params"]["tags"] is not value["params"]["tags"]


def test_mappings_render_to_dicts_and_other_values_pass_through():
    marker = object()
    assert render(MappingProxyType({"a": "{{ 1 }}"})) == {"a": 1}
    assert render(marker) is marker
    assert render({1, 2}) == {1, 2}
    assert render(None) is None


# -- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, name",
    [
        ("{{ foo }}", "foo"),
        ("{{ foo.bar }}", "foo"),
        ("url: {{ foo }}", "foo"),
        ("{{ [foo] }}", "foo"),  # inside a container built by the expression
        ("{{ dict(a=foo) }}", "foo"),
        ("{{ ctx.x }}", "ctx.x"),
        ("{{ ctx.x.y }}", "ctx.x"),
        ("a {{ iter.city.zip }}", "iter.city.zip"),
        ("{{ workload.cities[5] }}", "workload.cities[5]"),
        ("{{ iter['city']['no-such'] }}", "iter.city['no-such']"),
        ("{{ ctx.a | default(1) }}{{ ctx.b }}", "ctx.b"),  # the failing one, not the defaulted one
    ],
)
def test_undefined_names_fail_naming_the_name_the_where_and_the_template(text, name):
    error = failure(text)
    assert f"undefined name '{name}'" in str(error)
    assert str(error).startswith("step 'fetch' task 'get' field 'url': ")
    assert error.template == text
    assert error.where == "step 'fetch' task 'get' field 'url'"
    assert repr(text) in str(error)


def test_an_undefined_attribute_of_a_loop_variable_still_fails():
    error = failure("{% for c in workload.cities %}{{ c.zip }}{% endfor %}")
    assert "'zip'" in str(error)


@pytest.mark.parametrize(
    "text, line, fragment",
    [
        ("{{ a + }}", 1, "unexpected"),
        ("first\nsecond {{ a + }}", 2, "unexpected"),
        ("{% if x %}\n\nnever closed", 1, "endif"),  # Jinja names the opening line
        ("a\n{% if x %}\n{% endfor %}", 3, "endfor"),
        ("{{ }}", 1, "Expected an expression"),
    ],
)
def test_syntax_errors_give_the_line_inside_the_template(text, line, fragment):
    error = failure(text)
    assert "template syntax error: " in str(error)
    assert f"(line {line})" in str(error)
    assert fragment in str(error)
    found = syntax_error(text)
    assert found is not None
    assert found[0] == line
    assert fragment in found[1]


def test_syntax_error_is_none_for_valid_or_plain_text():
    assert syntax_error("{{ a.b | length }}") is None
    assert syntax_error("no template {here}") is None


@pytest.mark.parametrize(
    "text",
    [
        "{{ ''.__class__.__mro__ }}",
        "x {{ ''.__class__ }}",
        "{{ fn.__globals__ }}",
        "{{ fn.__code__ }}",
        "{{ (1).__class__.__base__.__subclasses__() }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ '{0.__class__}'.format(1) }}",
        "{{ workload.cities.append(1) }}",  # the immutable sandbox refuses mutation
        "{{ ctx.update({'a': 1}) }}",
        "{% for c in fn.__globals__ %}{% endfor %}",
    ],
)
def test_the_sandbox_refuses_access_to_python_internals(text):
    scope = dict(SCOPE, fn=render)
    error = failure(text, scope)
    assert "access refused by the sandbox: " in str(error)
    assert scope["ctx"] == {}
    assert len(SCOPE["workload"]["cities"]) == 2


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("{{ 1 / 0 }}", "ZeroDivisionError: division by zero"),
        ("x {{ 1 + 'a' }}", "TypeError: unsupported operand"),
        ("{{ '[' | fromjson }}", "JSONDecodeError: "),
        ("{{ range(10 ** 7) | list }}", "OverflowError: "),  # the sandbox bounds range()
    ],
)
def test_other_failures_name_the_exception(text, fragment):
    assert fragment in str(failure(text))


def test_without_where_the_message_has_no_prefix():
    with pytest.raises(TemplateError) as info:
        render("{{ nope }}")
    assert str(info.value) == "undefined name 'nope' in template '{{ nope }}'"


# -- caching ------------------------------------------------------------------------------------


def test_compiled_templates_are_cached_and_reused():
    renderer = JinjaRenderer()
    text = "{{ workload.threshold + 1 }}"
    assert renderer.render(text, SCOPE) == 26
    compiled = renderer.compile(text)
    assert renderer.render(text, dict(SCOPE, workload={"threshold": 1})) == 2
    assert renderer.compile(text) is compiled
    info = renderer.cache_info()
    assert info.currsize == 1
    assert info.hits == 3  # render, compile, render, compile: one miss then hits
    renderer.render("plain text", SCOPE)  # no markers: never compiled
    assert renderer.cache_info().currsize == 1


def test_the_cache_is_bounded():
    renderer = JinjaRenderer(cache_size=2)
    for n in range(5):
        assert renderer.render(f"{{{{ {n} }}}}", {}) == n
    assert renderer.cache_info().currsize == 2


def test_a_renderer_satisfies_the_engine_protocol():
    from noetl.engine.definition import Renderer

    renderer: Renderer = RENDERER
    assert renderer.render("{{ 1 }}", {}) == 1


# -- properties ---------------------------------------------------------------------------------

brace_free_text = st.text(alphabet=st.characters(blacklist_characters="{}"))
json_scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | brace_free_text
)
json_like = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(brace_free_text, children, max_size=4)
    ),
    max_leaves=20,
)


@given(json_like)
def test_template_free_structures_render_unchanged(value):
    assert render(value) == value


@given(json_like)
def test_a_lone_expression_round_trips_any_json_like_value(value):
    result = render("{{ value }}", {"value": value})
    assert result == value or (isinstance(value, float) and math.isnan(value))


@given(brace_free_text.filter(lambda s: "\r" not in s), brace_free_text)
def test_text_around_an_expression_is_kept_exactly(text, inserted):
    # (Jinja normalises "\r\n" in template text to "\n", hence no "\r" in the outer text.)
    result = render(text + "{{ inserted }}" + text, {"inserted": inserted})
    if text.strip():
        assert result == text + inserted + text
    else:  # whitespace around one expression: the lone-expression (native) path
        assert result == inserted


# -- budgets (D5): no render may run or grow without bound ----------------------------------------


@pytest.mark.parametrize(
    "text, says",
    [
        ("{% for i in range(100000) %}{% for j in range(7000) %}{% endfor %}{% endfor %}", "loops"),
        (
            "{% for a in xs %}{% for b in xs %}{% for c in xs %}"
            "{% endfor %}{% endfor %}{% endfor %}",
            "loops",
        ),
        ("{{ '{0:>2000000000}'.format(1) }}", "format width"),
        ("{{ '{0:{1}}'.format(1, 10**9) }}", "widths taken from arguments"),
        ("{{ 'a' * 10**8 }}", "repeated sequence"),
        ("{{ [0] * 10**9 }}", "repeated sequence"),
        ("{{ 10 ** (10 ** 8) }}", "a number"),
        ("{{ '%1000000000d' % 1 }}", "format width"),
        ("{{ '%*d' | format(10**9, 1) }}", "'*' widths"),
        ("{{ 'x' | center(10**9) }}", "center width"),
        ("{{ xs | slice(10**9) | list }}", "slice count"),
        ("{{ lipsum(10**6) }}", "lipsum"),
        ("{% for i in range(99999) %}{{ 'x' * 9999 }}{% endfor %}", "rendered text"),
    ],
)
def test_a_render_over_its_budget_is_a_template_error(text, says):
    scope = {"xs": list(range(1000))}
    with pytest.raises(TemplateError, match="BudgetExceeded") as raised:
        RENDERER.render(text, scope, where="step 'start' when")
    assert says in str(raised.value)
    assert "step 'start' when" in str(raised.value)


def test_a_render_over_its_cpu_time_is_a_template_error():
    budget.configure(Settings(template_cpu_seconds=0.02, template_iterations=10**9))
    try:
        with pytest.raises(TemplateError, match="CPU"):
            RENDERER.render(
                "{% for a in xs %}{% for b in xs %}{{ a ~ b }}{% endfor %}{% endfor %}",
                {"xs": list(range(3000))},
            )
    finally:
        budget.configure(Settings())


def test_templates_within_the_budget_render_as_before():
    scope = {"xs": [1, 2, 3]}
    assert RENDERER.render("{% for x in xs %}{{ x * 2 }}{% endfor %}", scope) == "246"
    assert RENDERER.render("{{ '%05d' % 42 }} {{ '{:>4}'.format('a') }}", scope) == "00042    a"
    assert RENDERER.render("{{ 2 ** 16 }}", scope) == 65536
    assert RENDERER.render("{{ 'ab' * 3 }}", scope) == "ababab"
