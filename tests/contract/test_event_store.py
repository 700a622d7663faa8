"""Contract of the event store port, run against every adapter (see conftest.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from noetl.engine import events as ev
from noetl.engine.events import Event
from noetl.errors import ConflictError, NotFoundError, StoreError
from noetl.store.port import ExecutionFilter


def started(eid: str, name: str = "hello", parent: str | None = None) -> Event:
    payload: dict[str, object] = {"playbook": {"name": name, "path": f"examples/{name}"}}
    if parent is not None:
        payload["parent_execution_id"] = parent
    return Event(ev.PLAYBOOK_STARTED, eid, payload=payload)


def step(kind: str, eid: str, name: str, iteration: int | None = None, **payload: object) -> Event:
    return Event(kind, eid, step=name, iteration=iteration, command_id=f"c-{name}", payload=payload)


def issued(eid: str, n: int) -> Event:
    return Event(ev.COMMAND_ISSUED, eid, step="s", command_id=f"cmd-{n}")


# -- sequence numbers -------------------------------------------------------------------------


def test_append_stamps_gap_free_seq_ids_and_utc_times(event_store):
    async def body(store):
        written = await store.append("e1", [started("e1"), issued("e1", 1), issued("e1", 2)])
        return written, await store.read("e1")

    written, log = event_store.run(body)
    assert [e.seq for e in written] == [1, 2, 3]
    assert len({e.event_id for e in written}) == 3
    for event in written:
        at = datetime.fromisoformat(event.created_at)
        assert at.utcoffset() == UTC.utcoffset(None)
        assert "." in event.created_at  # microseconds are kept
    assert log == written


def test_an_event_that_says_when_it_happened_keeps_its_time(event_store):
    at = "2026-03-01T10:00:00.123456+00:00"
    happened = Event(ev.TASK_DONE, "e1", step="s", command_id="c1", created_at=at)

    async def body(store):
        written = await store.append("e1", [started("e1"), happened])
        return written, await store.read("e1")

    written, log = event_store.run(body)
    assert written[1].created_at == at
    assert written[0].created_at != at  # the others get the append's time
    assert log == written


def test_seq_continues_across_appends_per_execution(event_store):
    async def body(store):
        await store.append("e1", [issued("e1", 1), issued("e1", 2)])
        more = await store.append("e1", [issued("e1", 3), issued("e1", 4), issued("e1", 5)])
        other = await store.append("e2", [issued("e2", 1)])
        return more, other, await store.last_seq("e1"), await store.last_seq("nobody")

    more, other, last, none = event_store.run(body)
    assert [e.seq for e in more] == [3, 4, 5]
    assert [e.seq for e in other] == [1]
    assert (last, none) == (5, 0)


def test_events_of_another_execution_are_refused(event_store):
    async def body(store):
        with pytest.raises(StoreError, match="e2"):
            await store.append("e1", [issued("e2", 1)])
        return await store.last_seq("e1"), await store.last_seq("e2")

    assert event_store.run(body) == (0, 0)


# -- idempotency --------------------------------------------------------------------------------


def test_event_with_known_key_is_dropped_across_calls(event_store):
    async def body(store):
        await store.append("e1", [issued("e1", 1)])
        again = await store.append("e1", [issued("e1", 1), issued("e1", 2)])
        return again, await store.read("e1")

    again, log = event_store.run(body)
    assert [(e.command_id, e.seq) for e in again] == [("cmd-2", 2)]
    assert [e.command_id for e in log] == ["cmd-1", "cmd-2"]


def test_key_repeated_inside_a_batch_is_written_once(event_store):
    async def body(store):
        return await store.append("e1", [issued("e1", 1), issued("e1", 1), issued("e1", 2)])

    written = event_store.run(body)
    assert [(e.command_id, e.seq) for e in written] == [("cmd-1", 1), ("cmd-2", 2)]


def test_explicit_idempotency_key_decides_what_is_a_duplicate(event_store):
    first = Event(ev.TASK_DONE, "e1", step="s", payload={"n": 1}, idempotency_key="k")
    second = Event(ev.TASK_DONE, "e1", step="s", payload={"n": 2}, idempotency_key="k")

    async def body(store):
        await store.append("e1", [first])
        dropped = await store.append("e1", [second])
        return dropped, await store.read("e1")

    dropped, log = event_store.run(body)
    assert dropped == []
    assert [e.payload for e in log] == [{"n": 1}]
    assert log[0].idempotency_key == "k"


def test_only_duplicates_write_nothing(event_store):
    async def body(store):
        await store.append("e1", [issued("e1", 1)])
        written = await store.append("e1", [issued("e1", 1)])
        return written, await store.last_seq("e1")

    assert event_store.run(body) == ([], 1)


def test_same_key_in_different_executions_is_not_a_duplicate(event_store):
    async def body(store):
        a = await store.append("e1", [issued("e1", 1)])
        b = await store.append("e2", [issued("e2", 1)])
        return len(a), len(b)

    assert event_store.run(body) == (1, 1)


# -- optimistic appends -------------------------------------------------------------------------


def test_expected_seq_mismatch_raises_conflict_and_writes_nothing(event_store):
    async def body(store):
        await store.append("e1", [started("e1"), issued("e1", 1)])
        with pytest.raises(ConflictError, match="expected last seq 1"):
            await store.append("e1", [step(ev.STEP_DONE, "e1", "a")], expected_seq=1)
        return await store.read("e1"), await store.get_execution("e1")

    log, summary = event_store.run(body)
    assert [e.seq for e in log] == [1, 2]
    assert summary.steps_done == 0
    assert summary.last_seq == 2


def test_expected_seq_matching_appends(event_store):
    async def body(store):
        first = await store.append("e1", [issued("e1", 1)], expected_seq=0)
        second = await store.append("e1", [issued("e1", 2)], expected_seq=1)
        return [e.seq for e in first + second]

    assert event_store.run(body) == [1, 2]


def test_batch_expectations_conflict_writes_nothing_for_any_execution(event_store):
    async def body(store):
        await store.append("e1", [issued("e1", 1)])
        await store.append("e2", [issued("e2", 1), issued("e2", 2)])
        batches = {"e1": [issued("e1", 3)], "e2": [issued("e2", 3)]}
        with pytest.raises(ConflictError):
            await store.append_batches(batches, expected={"e1": 1, "e2": 1})
        unchanged = (await store.last_seq("e1"), await store.last_seq("e2"))
        written = await store.append_batches(batches, expected={"e1": 1, "e2": 2})
        return unchanged, {k: [e.seq for e in v] for k, v in written.items()}

    unchanged, written = event_store.run(body)
    assert unchanged == (1, 2)
    assert written == {"e1": [2], "e2": [3]}


# -- reading --------------------------------------------------------------------------------------


def test_read_pages_with_after_seq_and_limit(event_store):
    async def body(store):
        await store.append("e1", [issued("e1", n) for n in range(1, 11)])
        return (
            await store.read("e1", after_seq=3, limit=4),
            await store.read("e1", after_seq=8),
            await store.read("e1", after_seq=10),
            await store.read("e1", limit=0),
            await store.read("nobody"),
        )

    page, tail, past_end, nothing, unknown = event_store.run(body)
    assert [e.seq for e in page] == [4, 5, 6, 7]
    assert [e.command_id for e in page] == ["cmd-4", "cmd-5", "cmd-6", "cmd-7"]
    assert [e.seq for e in tail] == [9, 10]
    assert past_end == nothing == unknown == []


def test_read_narrows_to_types_and_a_step_in_seq_order(event_store):
    async def body(store):
        await store.append("e1", [started("e1"), issued("e1", 1), step(ev.STEP_DONE, "e1", "a")])
        await store.append("e1", [issued("e1", 2), step(ev.STEP_DONE, "e1", "b")])
        await store.append("e1", [step(ev.STEP_FAILED, "e1", "a", iteration=3)])
        ends = {ev.STEP_DONE, ev.STEP_FAILED}
        return (
            await store.read("e1", types=ends),
            await store.read("e1", types=ends, after_seq=3, limit=1),
            await store.read("e1", step="a"),
            await store.read("e1", types=[ev.STEP_DONE], step="b"),
            await store.read("e1", types=[]),
        )

    ends, page, of_a, done_b, none = event_store.run(body)
    assert [(e.seq, e.type, e.step) for e in ends] == [
        (3, ev.STEP_DONE, "a"),
        (5, ev.STEP_DONE, "b"),
        (6, ev.STEP_FAILED, "a"),
    ]
    assert [e.seq for e in page] == [5]
    assert [e.seq for e in of_a] == [3, 6] and of_a[1].iteration == 3
    assert [e.seq for e in done_b] == [5]
    assert none == []


def test_read_leaves_out_iterations_and_reads_newest_first(event_store):
    async def body(store):
        await store.append("e1", [started("e1"), step(ev.STEP_DONE, "e1", "a", result=1)])
        await store.append("e1", [step(ev.STEP_DONE, "e1", "b", iteration=n) for n in range(3)])
        again = Event(ev.STEP_DONE, "e1", step="a", command_id="c-a-again")  # a's second run
        await store.append("e1", [step(ev.LOOP_DONE, "e1", "b"), again])
        ends = {ev.STEP_DONE, ev.LOOP_DONE}
        return (
            await store.read("e1", types=ends, iterations=False),
            await store.read("e1", types=ends, step="b", newest_first=True),
            await store.read("e1", step="a", iterations=False, newest_first=True, limit=1),
            await store.read("e1", newest_first=True, limit=2),
            await store.read("e1", after_seq=6, iterations=False, newest_first=True),
            await store.read("e1", types=ends, step="b", iterations=False, newest_first=True),
        )

    whole, of_b, latest_a, last_two, past, loop_end = event_store.run(body)
    assert [(e.seq, e.step) for e in whole] == [(2, "a"), (6, "b"), (7, "a")]
    assert [(e.seq, e.iteration) for e in of_b] == [(6, None), (5, 2), (4, 1), (3, 0)]
    assert [e.seq for e in latest_a] == [7] and latest_a[0].payload == {}
    assert [e.seq for e in last_two] == [7, 6]
    assert [e.seq for e in past] == [7]
    assert [(e.seq, e.type) for e in loop_end] == [(6, ev.LOOP_DONE)]


def test_tally_iterations_counts_per_step_and_names_workers_in_the_order_they_ended(event_store):
    def end(kind: str, name: str, n: int, worker: str | None) -> Event:
        return step(
            kind, "e1", name, iteration=n, **({} if worker is None else {"worker_id": worker})
        )

    async def body(store):
        await store.append("e1", [started("e1"), step(ev.STEP_DONE, "e1", "a", worker_id="w0")])
        await store.append(
            "e1",
            [
                end(ev.STEP_DONE, "b", 0, "w2"),  # seq 3
                end(ev.TASK_FAILED, "b", 1, "w9"),  # not an ending: names no worker
                end(ev.STEP_FAILED, "b", 1, "w1"),
                end(ev.STEP_DONE, "b", 2, "w2"),
                end(ev.STEP_SKIPPED, "c", 0, None),
                end(ev.COMMAND_ISSUED, "b", 3, "w3"),  # not a tallied type
                end(ev.STEP_DONE, "b", 3, "w3"),  # seq 9
            ],
        )
        kinds = {ev.STEP_DONE, ev.STEP_FAILED, ev.STEP_SKIPPED, ev.TASK_FAILED}
        return (
            await store.tally_iterations("e1", after_seq=0, upto_seq=9, types=kinds),
            await store.tally_iterations("e1", after_seq=3, upto_seq=8, types=kinds),
            await store.tally_iterations("e1", after_seq=9, upto_seq=20, types=kinds),
            await store.tally_iterations("nobody", after_seq=0, upto_seq=20, types=kinds),
        )

    whole, middle, after_all, unknown = event_store.run(body)
    assert set(whole) == {"b", "c"}  # step a ended as a whole: not an iteration
    b = whole["b"]
    assert b.counts == {ev.STEP_DONE: 3, ev.STEP_FAILED: 1, ev.TASK_FAILED: 1}
    assert b.last_seq == {ev.STEP_DONE: 9, ev.STEP_FAILED: 5, ev.TASK_FAILED: 4}
    assert b.workers == ("w2", "w1", "w3")
    assert whole["c"].counts == {ev.STEP_SKIPPED: 1} and whole["c"].workers == ()
    assert middle["b"].counts == {ev.STEP_DONE: 1, ev.STEP_FAILED: 1, ev.TASK_FAILED: 1}
    assert middle["b"].workers == ("w1", "w2")
    assert after_all == unknown == {}


def test_read_gives_back_every_field_as_json(event_store):
    original = Event(
        ev.TASK_FAILED,
        "e1",
        step="fetch",
        iteration=3,
        command_id="c9",
        origin="worker",
        payload={"error": {"kind": "http", "codes": (500, 502)}, "n": 1.5, "none": None},
    )

    async def body(store):
        await store.append("e1", [original])
        return (await store.read("e1"))[0]

    back = event_store.run(body)
    assert (back.type, back.step, back.iteration, back.command_id, back.origin) == (
        ev.TASK_FAILED,
        "fetch",
        3,
        "c9",
        "worker",
    )
    assert back.payload == {"error": {"kind": "http", "codes": [500, 502]}, "n": 1.5, "none": None}
    assert back.idempotency_key == original.key


def test_text_with_quotes_escapes_and_unicode_comes_back_unchanged(event_store):
    """Every text column and JSON value, with what JSON and SQL both have to escape."""
    odd = 'a "quoted", back\\slash, \'single\', new\nline, tab\t, ü, 日本, emoji 🎉, {"x": 1}'

    async def body(store):
        first = started("e1", name=odd)
        task = Event(
            ev.TASK_DONE,
            "e1",
            step=odd,
            command_id=odd,
            payload={odd: [odd, {"nested": odd}], "n": -0.5},
            idempotency_key=odd,
        )
        end = Event(ev.PLAYBOOK_DONE, "e1", payload={"result": odd})
        await store.append("e1", [first, task])
        await store.append("e1", [end])
        return await store.read("e1"), await store.get_execution("e1")

    log, summary = event_store.run(body)
    back = log[1]
    assert (back.step, back.command_id, back.idempotency_key) == (odd, odd, odd)
    assert back.payload == {odd: [odd, {"nested": odd}], "n": -0.5}
    assert (summary.playbook_name, summary.result) == (odd, odd)


# -- atomic batches -----------------------------------------------------------------------------


def test_append_batches_writes_several_executions(event_store):
    async def body(store):
        await store.append("e1", [started("e1"), issued("e1", 1)])
        written = await store.append_batches(
            {
                "e1": [issued("e1", 1), issued("e1", 2)],
                "e2": [started("e2"), issued("e2", 1), issued("e2", 1)],
            }
        )
        return written, await store.get_execution("e2")

    written, summary = event_store.run(body)
    assert [(e.command_id, e.seq) for e in written["e1"]] == [("cmd-2", 3)]
    assert [e.seq for e in written["e2"]] == [1, 2]
    assert summary.status == "running"
    assert summary.last_seq == 2


def test_append_batches_is_all_or_nothing(event_store):
    circular: dict[str, object] = {}
    circular["self"] = circular

    async def body(store):
        with pytest.raises(StoreError):
            await store.append_batches(
                {
                    "e1": [started("e1"), issued("e1", 1)],
                    "e2": [Event(ev.TASK_DONE, "e2", step="s", payload=circular)],
                }
            )
        with pytest.raises(NotFoundError):
            await store.get_execution("e1")
        return await store.last_seq("e1"), await store.last_seq("e2")

    assert event_store.run(body) == (0, 0)


# -- the execution projection ---------------------------------------------------------------------


def test_projection_follows_a_successful_execution(event_store):
    async def body(store):
        await store.append("e1", [started("e1", "etl", parent="p1"), issued("e1", 1)])
        running = await store.get_execution("e1")
        await store.append(
            "e1",
            [
                step(ev.STEP_STARTED, "e1", "a"),
                step(ev.STEP_DONE, "e1", "a"),
                step(ev.STEP_DONE, "e1", "each", iteration=0),  # an iteration is not a step
                step(ev.STEP_FAILED, "e1", "each", iteration=1),
                step(ev.LOOP_DONE, "e1", "each"),
                step(ev.STEP_SKIPPED, "e1", "b"),
                step(ev.STEP_FAILED, "e1", "c"),
            ],
        )
        await store.append("e1", [Event(ev.PLAYBOOK_DONE, "e1", payload={"result": {"rows": 3}})])
        return running, await store.get_execution("e1"), await store.read("e1")

    running, done, log = event_store.run(body)
    assert running.status == "running"
    assert running.finished_at is None
    assert running.result is None and running.error is None
    assert running.last_seq == 2
    assert (done.playbook_name, done.playbook_path) == ("etl", "examples/etl")
    assert done.parent_execution_id == "p1"
    assert done.status == "done"
    assert (done.steps_done, done.steps_failed, done.steps_skipped) == (2, 1, 1)
    assert done.result == {"rows": 3}
    assert done.error is None
    assert done.started_at == log[0].created_at
    assert done.finished_at == log[-1].created_at
    assert done.last_seq == log[-1].seq == 10
    assert done.to_dict()["status"] == "done"


def test_projection_of_a_failed_execution(event_store):
    error = {"kind": "tool", "message": "boom", "step": "a"}

    async def body(store):
        await store.append("e1", [started("e1"), step(ev.STEP_FAILED, "e1", "a")])
        await store.append("e1", [Event(ev.PLAYBOOK_FAILED, "e1", payload={"error": error})])
        return await store.get_execution("e1")

    summary = event_store.run(body)
    assert summary.status == "failed"
    assert summary.error == error
    assert summary.result is None
    assert summary.finished_at is not None
    assert summary.parent_execution_id is None


def test_projection_of_a_cancelled_execution(event_store):
    async def body(store):
        payload = {"reason": "ctrl-c", "by": "client"}
        cancel = Event(ev.PLAYBOOK_CANCELLED, "e1", payload=payload, origin="client")
        await store.append("e1", [started("e1"), cancel])
        return await store.get_execution("e1")

    summary = event_store.run(body)
    assert summary.status == "cancelled"
    assert summary.error == {"reason": "ctrl-c", "by": "client"}


def test_first_terminal_event_wins(event_store):
    async def body(store):
        await store.append("e1", [started("e1")])
        await store.append("e1", [Event(ev.PLAYBOOK_DONE, "e1", payload={"result": 1})])
        await store.append("e1", [Event(ev.PLAYBOOK_CANCELLED, "e1", origin="client")])
        return await store.get_execution("e1")

    summary = event_store.run(body)
    assert (summary.status, summary.result, summary.error) == ("done", 1, None)
    assert summary.last_seq == 3


def test_unknown_execution_is_not_found(event_store):
    async def body(store):
        await store.append("e1", [issued("e1", 1)])  # events, but never started
        for eid in ("e1", "missing"):
            with pytest.raises(NotFoundError, match=eid) as caught:
                await store.get_execution(eid)
            # It says what is missing, never where the database is (servers answer it as 404).
            assert str(caught.value) == f"execution {eid!r} not found"

    event_store.run(body)


def test_list_is_newest_first_filtered_and_paged(event_store):
    async def body(store):
        for n in range(5):
            await store.append(f"e{n}", [started(f"e{n}")])
        for n in (1, 3):
            await store.append(f"e{n}", [Event(ev.PLAYBOOK_DONE, f"e{n}")])
        return (
            await store.list_executions(),
            await store.list_executions(status="running"),
            await store.list_executions(status="done"),
            await store.list_executions(limit=2, offset=1),
            await store.list_executions(status="failed"),
        )

    everything, running, done, page, failed = event_store.run(body)

    def ids(summaries):
        return [s.execution_id for s in summaries]

    assert ids(everything) == ["e4", "e3", "e2", "e1", "e0"]
    assert ids(running) == ["e4", "e2", "e0"]
    assert ids(done) == ["e3", "e1"]
    assert ids(page) == ["e3", "e2"]
    assert failed == []


def test_list_filters_by_playbook_and_time_and_pages_by_key(event_store):
    async def body(store):
        for n in range(6):
            path = "a" if n % 2 == 0 else "b"
            event = started(f"e{n}", parent="e0" if n in (2, 3) else None)
            info = dict(event.payload["playbook"], path=path)
            await store.append(
                f"e{n}", [replace(event, payload={**event.payload, "playbook": info})]
            )
        everything = await store.list_executions()
        third = everything[2].started_at  # e3's start
        return (
            everything,
            await store.list_executions(where=ExecutionFilter(playbook="a")),
            await store.list_executions(where=ExecutionFilter(since=third)),
            await store.list_executions(where=ExecutionFilter(until=third)),
            await store.list_executions(limit=2, where=ExecutionFilter(before="e4")),
            await store.list_executions(where=ExecutionFilter(before="e1")),
            await store.list_executions(where=ExecutionFilter(playbook="b", before="e5")),
            await store.list_executions(where=ExecutionFilter(before="nope")),
            await store.list_executions(where=ExecutionFilter(parent="e0")),
        )

    everything, a, since, until, page, last, b_after, unknown, children = event_store.run(body)

    def ids(summaries):
        return [s.execution_id for s in summaries]

    assert ids(everything) == ["e5", "e4", "e3", "e2", "e1", "e0"]
    assert ids(a) == ["e4", "e2", "e0"]
    assert ids(since) == ["e5", "e4", "e3"]
    assert ids(until) == ["e2", "e1", "e0"]
    assert ids(page) == ["e3", "e2"]
    assert ids(last) == ["e0"]
    assert ids(b_after) == ["e3", "e1"]
    assert unknown == []
    assert ids(children) == ["e3", "e2"]


# -- durability ---------------------------------------------------------------------------------


def test_events_and_projection_survive_close_and_reopen(durable_event_store):
    async def first(store):
        await store.append("e1", [started("e1"), step(ev.STEP_DONE, "e1", "a")])

    async def second(store):
        again = await store.append(
            "e1", [step(ev.STEP_DONE, "e1", "a"), step(ev.STEP_DONE, "e1", "b")]
        )
        await store.append("e1", [Event(ev.PLAYBOOK_DONE, "e1", payload={"result": "ok"})])
        return again, await store.read("e1"), await store.get_execution("e1")

    durable_event_store.run(first)
    again, log, summary = durable_event_store.run(second)
    assert [(e.step, e.seq) for e in again] == [("b", 3)]  # "a" was already in the file
    assert [e.seq for e in log] == [1, 2, 3, 4]
    assert (summary.status, summary.steps_done, summary.result) == ("done", 2, "ok")
    reopened = durable_event_store.run(lambda store: store.get_execution("e1"))
    assert reopened == summary


# -- claims -----------------------------------------------------------------------------------


def test_claims_have_one_winner_per_attempt_and_later_attempts_win(event_store):
    async def body(store):
        return [
            await store.claim([("e1", "c1", 1)]),
            await store.claim([("e1", "c1", 1)]),  # the same delivery again: refused
            await store.claim([("e1", "c2", 1)]),  # another command: its own claim
            await store.claim([("e1", "c1", 3)]),  # a later redelivery wins
            await store.claim([("e1", "c1", 2)]),  # an older one never does
            await store.claim([("e2", "c1", 1)]),  # same command id, other execution
        ]

    assert event_store.run(body) == [[True], [False], [True], [True], [False], [True]]


def test_claims_written_together_are_decided_each_and_only_a_commands_latest_wins(event_store):
    async def body(store):
        await store.claim([("e1", "c1", 2)])
        together = [("e1", "c1", 1), ("e1", "c2", 1), ("e1", "c3", 1), ("e1", "c3", 2)]
        return await store.claim(together), await store.claim([("e1", "c3", 2), ("e9", "c", 1)])

    # c1: an older attempt than the one held; c3: the later of its two attempts; then c3 again
    assert event_store.run(body) == ([False, True, False, True], [False, True])


def test_released_claims_can_be_claimed_again(event_store):
    async def body(store):
        await store.claim([("e1", "c1", 1), ("e2", "c1", 1)])
        await store.release_claims("e1")
        return await store.claim([("e1", "c1", 1), ("e2", "c1", 1)])

    assert event_store.run(body) == [True, False]


def test_list_finds_executions_by_a_prefix_of_their_id(event_store):
    async def body(store):
        for execution_id in ("7100", "7109", "7119", "712", "71", "8100"):
            await store.append(execution_id, [started(execution_id)])

        async def found(prefix: str) -> list[str]:
            listed = await store.list_executions(where=ExecutionFilter(id_prefix=prefix))
            return sorted(s.execution_id for s in listed)

        return [await found(prefix) for prefix in ("710", "711", "71", "7109", "9", "8100")]

    assert event_store.run(body) == [
        ["7100", "7109"],
        ["7119"],
        ["71", "7100", "7109", "7119", "712"],
        ["7109"],
        [],
        ["8100"],
    ]


def test_the_summary_names_the_catalog_version_an_execution_ran(event_store):
    async def body(store):
        from_catalog = started("v1")
        info = dict(from_catalog.payload["playbook"], file="catalog:examples/hello@v7")
        await store.append("v1", [replace(from_catalog, payload={"playbook": info})])
        await store.append("v2", [started("v2")])  # a file or inline YAML: no version
        listed = {s.execution_id: s.playbook_version for s in await store.list_executions()}
        return listed, (await store.get_execution("v1")).playbook_version

    listed, shown = event_store.run(body)
    assert listed == {"v1": 7, "v2": None}
    assert shown == 7


def test_one_commands_claim_is_released_alone(event_store):
    """A lease that ran out forgets that command's claim only (its new delivery starts again at
    attempt 1); the execution's other claims stay."""

    async def body(store):
        await store.claim([("e1", "c1", 3), ("e1", "c2", 1)])
        await store.release_claims("e1", "c1")
        return await store.claim([("e1", "c1", 1), ("e1", "c2", 1)])

    assert event_store.run(body) == [True, False]


def test_the_claims_of_ended_executions_are_deleted_together(event_store):
    async def body(store):
        await store.claim([(execution_id, "c1", 2) for execution_id in ("e1", "e2", "e3")])
        await store.forget_claims(["e1", "e3"])
        await store.forget_claims([])  # nothing ended: nothing to do
        return await store.claim([(e, "c1", 1) for e in ("e1", "e2", "e3")])

    assert event_store.run(body) == [True, False, True]


def test_a_working_store_answers_the_readiness_ping(event_store):
    async def body(store):
        await store.append("e1", [started("e1")])
        return await store.ping(), len(await store.read("e1"))

    assert event_store.run(body) == (None, 1)
