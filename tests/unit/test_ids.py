"""Identifiers: unique and time-sortable, one at a time or a batch's worth at once."""

from __future__ import annotations

import threading

from noetl.ids import keyed_id, new_id, new_ids


def test_a_batch_of_ids_is_unique_and_in_order_with_the_ones_around_it():
    before = new_id()
    batch = new_ids(5000)  # more than one millisecond's 4096 sequence numbers
    after = new_id()
    made = [before, *batch, after]
    assert len(set(made)) == len(made)
    assert [int(i) for i in made] == sorted(int(i) for i in made)
    assert new_ids(0) == []


def test_ids_made_by_many_threads_never_repeat():
    made: list[list[str]] = []

    def make() -> None:
        made.append([new_id() for _ in range(500)] + new_ids(500))

    threads = [threading.Thread(target=make) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [i for ids in made for i in ids]
    assert len(every) == 8000
    assert len(set(every)) == len(every)


def test_a_keyed_id_is_the_same_for_the_same_key_and_never_a_new_one():
    assert keyed_id("k1") == keyed_id("k1") != keyed_id("k2")
    assert int(keyed_id("k1")) >= 1 << 63 > int(new_id())
