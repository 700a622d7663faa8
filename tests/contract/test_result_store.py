"""Contract of the result store port, run against every adapter (see conftest.py).

The workers' remote store and the server's database stores must behave like the embedded file
store: a body is stored once per execution, read back as the value it encodes, and a missing or
damaged one is an error naming its key.
"""

from __future__ import annotations

import hashlib
import json

import pytest

from noetl.errors import NotFoundError, StoreError
from noetl.store.results import JSON, REF_KEY, encode

STORE_NAMES = {"memory": "memory", "file": "file", "sqlite": "db", "postgres": "db", "remote": "db"}
VALUE = {"rows": [{"id": i, "name": f"row {i}", "tags": ["a", "b"]} for i in range(5000)]}


def test_put_answers_a_ref_and_get_gives_the_value_back(result_store):
    execution_id = result_store.executions[0]
    body = encode(VALUE)

    async def scenario(store):
        ref = await store.put(execution_id, body)
        return ref, await store.get(ref)

    ref, value = result_store.run(scenario)
    assert value == VALUE
    inner = ref[REF_KEY]
    assert list(ref) == [REF_KEY]
    assert inner["store"] == STORE_NAMES[result_store.name]
    assert (inner["size"], inner["content_type"]) == (len(body), JSON)
    assert inner["sha256"] == hashlib.sha256(body).hexdigest()
    assert inner["key"].startswith(f"{execution_id}/{inner['sha256']}")
    json.dumps(ref)  # events carry it: plain JSON


def test_identical_bodies_are_stored_once_per_execution(result_store):
    first, second = result_store.executions
    body = encode(VALUE)

    async def scenario(store):
        return [await store.put(first, body), await store.put(first, body)], await store.put(
            second, body
        )

    (one, again), other = result_store.run(scenario)
    assert one == again
    assert other[REF_KEY]["key"] != one[REF_KEY]["key"]
    assert other[REF_KEY]["sha256"] == one[REF_KEY]["sha256"]


def test_other_content_types_come_back_as_text_or_bytes(result_store):
    execution_id = result_store.executions[0]
    text, raw = "héllo\nwörld".encode(), bytes(range(256)) * 64

    async def scenario(store):
        as_text = await store.put(execution_id, text, "text/plain; charset=utf-8")
        as_bytes = await store.put(execution_id, raw, "application/octet-stream")
        return await store.get(as_text), await store.get(as_bytes), as_text

    got_text, got_raw, ref = result_store.run(scenario)
    assert (got_text, got_raw) == ("héllo\nwörld", raw)
    assert ref[REF_KEY]["content_type"] == "text/plain; charset=utf-8"


def test_an_unknown_key_is_not_found_and_named(result_store):
    execution_id = result_store.executions[0]
    key = f"{execution_id}/{'0' * 64}"
    ref = {REF_KEY: {"store": "x", "key": key, "size": 2, "sha256": "0" * 64}}

    async def scenario(store):
        with pytest.raises(NotFoundError, match=key):
            await store.get(ref)

    result_store.run(scenario)


def test_results_outlive_the_store_object(durable_result_store):
    execution_id = durable_result_store.executions[1]
    ref = durable_result_store.run(lambda store: store.put(execution_id, encode(VALUE)))
    assert durable_result_store.run(lambda store: store.get(ref)) == VALUE


def test_a_damaged_body_is_refused_naming_its_key(checked_result_store):
    execution_id = checked_result_store.executions[0]
    ref = checked_result_store.run(lambda store: store.put(execution_id, encode(VALUE)))
    key = ref[REF_KEY]["key"]
    assert checked_result_store.corrupt is not None
    checked_result_store.corrupt(key)

    async def scenario(store):
        with pytest.raises(StoreError, match=f"result {key} is corrupt"):
            await store.get(ref)
        with pytest.raises(StoreError, match="corrupt"):
            await store.read(key)

    checked_result_store.run(scenario)
