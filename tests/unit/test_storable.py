"""What no event store can keep is named, with where it is, at any depth."""

from __future__ import annotations

import pytest

from noetl.engine.storable import MAX_DEPTH, unstorable


def nested(depth: int) -> object:
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ({"a": [1, {"b": float("inf")}]}, "payload.a[1].b: inf is not a JSON number"),
        ({"a": float("nan")}, "payload.a: nan is not a JSON number"),
        ({"a": "x\x00y"}, "payload.a: holds a NUL character"),
        ({"a\x00": 1}, "payload: the key 'a\\x00' holds a NUL character"),
        ({"a": ("ok", "\ud800")}, "payload.a[1]: holds a lone UTF-16 surrogate"),
        ({"a": nested(MAX_DEPTH)}, f"nested deeper than {MAX_DEPTH} levels"),
        ({"a": nested(100_000)}, f"nested deeper than {MAX_DEPTH} levels"),
    ],
)
def test_what_no_store_keeps_is_named(value, says):
    problem = unstorable(value, "payload")
    assert problem is not None and says in problem


def test_plain_json_passes():
    value = {"text": "café 😀", "n": [1, 2.5, None, True], "deep": nested(MAX_DEPTH - 2)}
    assert unstorable(value, "payload") is None
