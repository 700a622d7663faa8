"""DSL features between steps, through `noetl run --json`: inputs, guards, arcs, joins, loops,
step timeouts and failures.

Every playbook below is run once, all of them at once (module fixture `runs`); each test then
asserts one feature on its run's result and, where the result alone cannot show it, on the
event log (`noetl events ID --json`).
"""

from __future__ import annotations

import json

import pytest

ECHO_WORKLOAD = """
workload:
  db: {host: localhost, port: 5432, opts: {ssl: false, pool: 2}}
  tags: [a]
  name: base
  keep: 1
workflow:
  - step: start
    tool: {kind: python, args: {w: "{{ workload }}"}, code: "result = w"}
"""
PAYLOAD = {"db": {"port": 6543, "opts": {"pool": 8}}, "tags": ["x", "y"]}
SETS = ["db.opts.ssl=true", "db.user=ada", "count=3", "ratio=0.5", "name=override", "empty="]

JOBS: dict[str, tuple[str, list[str]]] = {
    "merge_payload": (ECHO_WORKLOAD, ["--payload", json.dumps(PAYLOAD)]),
    "merge_sets": (ECHO_WORKLOAD, [arg for s in SETS for arg in ("--set", s)]),
    "merge_both": (
        ECHO_WORKLOAD,
        ["--payload", json.dumps(PAYLOAD), *[arg for s in SETS for arg in ("--set", s)]],
    ),
    "when_skip": (
        """
        workflow:
          - step: start
            spec: {next_mode: inclusive}
            next:
              - {step: skipped, args: {go: false}}
              - {step: kept, args: {go: true}}
          - step: skipped
            when: "{{ args.go }}"
            tool: {kind: python, code: "raise RuntimeError('a false guard must skip the step')"}
          - step: kept
            when: "{{ args.go }}"
            tool: {kind: noop, result: ran}
        """,
        [],
    ),
    "exclusive": (
        """
        workflow:
          - step: start
            tool: {kind: noop, result: 3}
            next:
              - {step: a, when: "{{ start > 5 }}"}
              - {step: b, when: "{{ start > 1 }}", args: {got: "{{ start }}", why: b}}
              - {step: c}
          - step: a
            tool: {kind: noop, result: a}
          - step: b
          - step: c
            tool: {kind: noop, result: c}
        """,
        [],
    ),
    "inclusive_join_all": (
        """
        workflow:
          - step: start
            tool: {kind: noop, result: 3}
            spec: {next_mode: inclusive}
            next:
              - {step: a, when: "{{ start > 5 }}", args: {n: 1}}
              - {step: b, when: "{{ start > 1 }}", args: {n: 2}}
              - {step: c, args: {n: 3}}
              - {step: d, args: {n: 4}}
          - step: a
            tool: {kind: python, args: {n: "{{ args.n }}"}, code: "result = n * 10"}
            next: reduce
          - step: b
            tool: {kind: python, args: {n: "{{ args.n }}"}, code: "result = n * 10"}
            next: reduce
          - step: c
            tool: {kind: python, args: {n: "{{ args.n }}"}, code: "result = n * 10"}
            next: reduce
          - step: d
            when: "{{ args.n > 100 }}"
            tool: {kind: python, args: {n: "{{ args.n }}"}, code: "result = n * 10"}
            next: reduce
          - step: reduce
            spec: {join: all}
            tool: {kind: python, args: {b: "{{ b }}", c: "{{ c }}"}, code: "result = [b, c]"}
        """,
        [],
    ),
    "join_any": (
        """
        workflow:
          - step: start
            spec: {next_mode: inclusive}
            next: [left, right]
          - step: left
            tool: {kind: noop, result: 1}
            next: merge
          - step: right
            tool: {kind: noop, result: 2}
            next: merge
          - step: merge
            tool: {kind: noop, result: merged}
        """,
        [],
    ),
    "loop_sequential": (
        """
        workflow:
          - step: start
            loop: {in: "{{ range(5) | list }}", iterator: i}
            tool:
              kind: python
              args: {i: "{{ iter.i }}"}
              code: |
                import time
                time.sleep((5 - i) * 0.01)
                result = i * i
            next: [{step: end, args: {squares: "{{ start.results }}"}}]
          - step: end
        """,
        [],
    ),
    "loop_parallel": (
        """
        workload: {words: [alpha, beta, gamma, delta, epsilon, zeta]}
        workflow:
          - step: start
            loop:
              in: "{{ workload.words }}"
              iterator: word
              spec: {mode: parallel, max_in_flight: 3}
            tool:
              kind: python
              args: {word: "{{ iter.word }}", i: "{{ iter.index }}"}
              code: |
                import time
                time.sleep((6 - i) * 0.02)  # later iterations finish first
                result = word.upper()
            next: [{step: end, args: {words: "{{ start.results }}"}}]
          - step: end
        """,
        [],
    ),
    "loop_empty": (
        """
        workflow:
          - step: start
            loop: {in: "{{ [] }}", iterator: x, spec: {mode: parallel}}
            tool: {kind: python, code: "raise RuntimeError('an empty loop runs nothing')"}
            next: [{step: end, args: {n: "{{ start.results | length }}"}}]
          - step: end
        """,
        [],
    ),
    "step_timeout": (
        """
        workflow:
          - step: slow
            spec: {timeout: 300ms}
            tool: {kind: python, code: "import time\\ntime.sleep(5)\\nresult = 1"}
        """,
        [],
    ),
    "failure_routed": (
        """
        workflow:
          - step: start
            tool: {kind: python, code: "raise KeyError('gone')"}
            next:
              - {step: ok}
              - step: handle
                when: "{{ event.status == 'error' }}"
                args:
                  name: "{{ event.name }}"
                  status: "{{ event.status }}"
                  kind: "{{ event.error.kind }}"
          - step: ok
            tool: {kind: noop, result: ok}
          - step: handle
        """,
        [],
    ),
    "failure_unhandled": (
        """
        workflow:
          - step: start
            next: explode
          - step: explode
            tool: {kind: python, code: "raise ValueError('boom')"}
            next: [{step: after}]
          - step: after
            tool: {kind: noop, result: never}
        """,
        [],
    ),
    "guard_unrenderable": (
        """
        workflow:
          - step: start
            next: guarded
          - step: guarded
            when: "{{ workload.missing_name.value > 1 }}"
            tool: {kind: noop, result: never}
        """,
        [],
    ),
    "arc_unrenderable": (
        """
        workflow:
          - step: start
            tool: {kind: noop, result: 1}
            next: [{step: end, when: "{{ workload.nowhere > 1 }}"}]
          - step: end
        """,
        [],
    ),
}


# the runs whose tests also read the event log
LOGS = {
    "when_skip",
    "exclusive",
    "inclusive_join_all",
    "join_any",
    "loop_sequential",
    "loop_parallel",
    "loop_empty",
    "failure_routed",
    "failure_unhandled",
}


@pytest.fixture(scope="module")
def runs(module_cli):
    """Every playbook of this module, run once, all at once."""
    return module_cli.run_many(JOBS, logs=LOGS)


def test_every_playbook_has_a_test():
    names = {n.removeprefix("test_") for n in globals() if n.startswith("test_")}
    assert set(JOBS) <= names


def started(cli, outcome):
    """Names of the steps that started, in order (one entry per run)."""
    return [e["step"] for e in cli.events(outcome) if e["type"] == "step.started"]


def most_in_flight(log):
    """The most loop iterations issued and not yet ended at any point of the log."""
    running, most = 0, 0
    for e in log:
        if e["iteration"] is None:
            continue
        if e["type"] == "command.issued":
            running += 1
        elif e["type"] in ("step.done", "step.failed"):
            running -= 1
        most = max(most, running)
    return most


def expected_merge(payload, sets):
    """The workload of ECHO_WORKLOAD deep-merged with a payload (values typed as in --set)."""
    db = {"host": "localhost", "port": 5432, "opts": {"ssl": False, "pool": 2}}
    merged = {"db": db, "tags": ["a"], "name": "base", "keep": 1}
    if payload:
        db.update(port=6543)
        db["opts"]["pool"] = 8
        merged["tags"] = ["x", "y"]  # lists are values: replaced, not concatenated
    if sets:
        db["opts"]["ssl"] = True
        db["user"] = "ada"
        merged.update(count=3, ratio=0.5, name="override", empty="")
    return merged


def test_merge_payload(runs):
    assert runs["merge_payload"].result == expected_merge(payload=True, sets=False)


def test_merge_sets(runs):
    assert runs["merge_sets"].result == expected_merge(payload=False, sets=True)


def test_merge_both(runs):
    # --set lands on top of --payload the same deep way both land on the workload
    assert runs["merge_both"].result == expected_merge(payload=True, sets=True)


def test_when_skip(runs, module_cli):
    assert runs["when_skip"].result == "ran"
    log = module_cli.events(runs["when_skip"])
    assert [e["step"] for e in log if e["type"] == "step.skipped"] == ["skipped"]
    assert [e["step"] for e in log if e["type"] == "command.issued"] == ["kept"]


def test_exclusive(runs, module_cli):
    # the first matching arc fires, with its args; later matching arcs do not
    assert runs["exclusive"].result == {"got": 3, "why": "b"}
    assert started(module_cli, runs["exclusive"]) == ["start", "b"]


def test_inclusive_join_all(runs, module_cli):
    # every matching arc fires; `d` is skipped by its guard (it never starts), which leaves
    # nothing else that can reach the join: it runs once, after b and c
    assert runs["inclusive_join_all"].result == [20, 30]
    log = module_cli.events(runs["inclusive_join_all"])
    ran = [e["step"] for e in log if e["type"] == "step.started"]
    assert sorted(ran) == ["b", "c", "reduce", "start"]
    assert ran[-1] == "reduce"
    assert [e["step"] for e in log if e["type"] == "step.skipped"] == ["d"]


def test_join_any(runs, module_cli):
    # without join: all, the step runs once per arriving token
    assert runs["join_any"].result == "merged"
    assert started(module_cli, runs["join_any"]).count("merge") == 2


def test_loop_sequential(runs, module_cli):
    assert runs["loop_sequential"].result == {"squares": [0, 1, 4, 9, 16]}
    log = module_cli.events(runs["loop_sequential"])
    issued = [e["iteration"] for e in log if e["type"] == "command.issued"]
    assert issued == [0, 1, 2, 3, 4]
    assert most_in_flight(log) == 1


def test_loop_parallel(runs, module_cli):
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"]
    assert runs["loop_parallel"].result == {"words": [w.upper() for w in words]}
    log = module_cli.events(runs["loop_parallel"])
    assert most_in_flight(log) == 3
    [done] = [e for e in log if e["type"] == "loop.done"]
    assert done["payload"]["stats"] == {"total": 6, "done": 6, "failed": 0}


def test_loop_empty(runs, module_cli):
    assert runs["loop_empty"].result == {"n": 0}
    log = module_cli.events(runs["loop_empty"])
    assert [e["payload"]["count"] for e in log if e["type"] == "loop.started"] == [0]
    assert not [e for e in log if e["type"] == "command.issued"]


def test_step_timeout(runs):
    error = runs["step_timeout"].error
    assert error["kind"] == "timeout"
    assert error["step"] == "slow"
    assert "slow" in error["message"]


def test_failure_routed(runs, module_cli):
    assert runs["failure_routed"].result == {
        "name": "step.failed",
        "status": "error",
        "kind": "python",
    }
    log = module_cli.events(runs["failure_routed"])
    assert [e["step"] for e in log if e["type"] == "step.failed"] == ["start"]
    assert started(module_cli, runs["failure_routed"]) == ["start", "handle"]


def test_failure_unhandled(runs, module_cli):
    error = runs["failure_unhandled"].error
    assert error["step"] == "explode"
    assert "'explode'" in error["message"] and "boom" in error["message"]
    log = module_cli.events(runs["failure_unhandled"])
    assert log[-1]["type"] == "playbook.failed"
    assert "after" not in started(module_cli, runs["failure_unhandled"])


def test_guard_unrenderable(runs):
    # a guard that cannot render fails the execution (never a silent false)
    error = runs["guard_unrenderable"].error
    assert "'guarded'" in error["message"] and "missing_name" in error["message"]


def test_arc_unrenderable(runs):
    error = runs["arc_unrenderable"].error
    assert "'start'" in error["message"] and "nowhere" in error["message"]
