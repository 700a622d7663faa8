"""DSL features inside a step, through `noetl run --json`: single tasks and pipelines (`_prev`,
`_task`, `_attempt`, `results`), workbook tasks, the scopes a task sees and changes (`workload`,
`ctx`, `vars`, `iter`, `execution_id`), and what a task prints.

Every playbook below is run once, all of them at once (module fixture `runs`); each test then
asserts one feature on its run's result.
"""

from __future__ import annotations

import pytest

JOBS: dict[str, tuple[str, list[str]]] = {
    "single": (
        """
        workflow:
          - step: start
            tool:
              kind: python
              args: {t: "{{ _task }}", a: "{{ _attempt }}"}
              code: "result = [t, a]"
        """,
        [],
    ),
    "pipeline": (
        """
        workflow:
          - step: start
            tool:
              - first: {kind: noop, result: 2}
              - second:
                  kind: python
                  args: {x: "{{ _prev }}", label: "{{ _task }}"}
                  code: "result = {'x10': x * 10, 'label': label}"
              - third:
                  kind: python
                  args:
                    first: "{{ results.first }}"
                    second: "{{ results.second }}"
                    prev: "{{ _prev.x10 }}"
                  code: "result = {'first': first, 'second': second, 'prev': prev}"
        """,
        [],
    ),
    "results_snapshot": (
        """
        workflow:
          - step: start
            tool:
              - first: {kind: noop, result: 1}
              - second: {kind: noop, result: 2}
              - third: {kind: python, args: {seen: "{{ results }}"}, code: "result = seen"}
        """,
        [],
    ),
    "workload_immutable": (
        """
        workload: {box: {x: 1}}
        workflow:
          - step: start
            tool:
              - poke:
                  kind: python
                  args: {box: "{{ workload.box }}"}
                  code: |
                    box["x"] = 99  # a task changing its own copy of an argument
                    result = box["x"]
              - look: {kind: python, args: {x: "{{ workload.box.x }}"}, code: "result = x"}
            next: later
          - step: later
            tool:
              kind: python
              args: {x: "{{ workload.box.x }}", seen: "{{ start }}"}
              code: "result = [seen, x]"
        """,
        [],
    ),
    "workbook": (
        """
        workload: {x: 14}
        workbook:
          - name: scale
            desc: multiplies
            tool:
              kind: python
              args: {x: "{{ args.x }}", k: "{{ args.k }}"}
              code: "result = x * k"
        workflow:
          - step: start
            tool: {kind: workbook, name: scale, args: {x: "{{ workload.x }}", k: 3}}
        """,
        [],
    ),
    "set_ctx": (
        """
        workflow:
          - step: start
            tool:
              kind: noop
              result: 7
              eval:
                - else: {do: continue, set_ctx: {seven: "{{ outcome.result }}", by: "{{ _task }}"}}
            next: middle
          - step: middle
            tool:
              kind: noop
              eval:
                - else: {do: continue, set_ctx: {eight: "{{ ctx.seven + 1 }}"}}
            next: later
          - step: later
            tool: {kind: python, args: {c: "{{ ctx }}"}, code: "result = c"}
        """,
        [],
    ),
    "set_vars_arcs": (
        """
        workflow:
          - step: start
            tool:
              kind: noop
              result: 5
              eval:
                - else: {do: continue, set_vars: {doubled: "{{ outcome.result * 2 }}"}}
            next:
              - {step: small, when: "{{ vars.doubled < 10 }}"}
              - {step: big, when: "{{ vars.doubled >= 10 }}", args: {v: "{{ vars.doubled }}"}}
          - step: small
            tool: {kind: noop, result: small}
          - step: big
        """,
        [],
    ),
    "set_iter": (
        """
        workflow:
          - step: start
            loop: {in: [3, 4, 5], iterator: n}
            tool:
              - square:
                  kind: python
                  args: {n: "{{ iter.n }}", had: "{{ iter.sq is defined }}"}
                  code: "result = {'sq': n * n, 'had': had}"
                  eval:
                    - else: {do: continue, set_iter: {sq: "{{ outcome.result.sq }}"}}
              - shape:
                  kind: python
                  args:
                    had: "{{ _prev.had }}"
                    sq: "{{ iter.sq }}"
                    i: "{{ iter.index }}"
                    first: "{{ iter.first }}"
                    last: "{{ iter.last }}"
                  code: "result = [had, sq, i, first, last]"
        """,
        [],
    ),
    "print_in_task": (
        """
        workflow:
          - step: start
            tool: {kind: python, code: "print('chatty task')\\nresult = 'quiet result'"}
        """,
        [],
    ),
    "unencodable_result": (
        """
        workflow:
          - step: start
            tool: {kind: python, code: "loop = []\\nloop.append(loop)\\nresult = loop"}
        """,
        [],
    ),
    "unkeepable_result": (
        """
        workflow:
          - step: start
            tool: {kind: python, code: "print(chr(0))\\nresult = ['ok', float('nan')]"}
        """,
        [],
    ),
    "execution_id": (
        """
        workflow:
          - step: start
            tool: {kind: python, args: {eid: "{{ execution_id }}"}, code: "result = eid"}
        """,
        [],
    ),
}


@pytest.fixture(scope="module")
def runs(module_cli):
    """Every playbook of this module, run once, all at once."""
    return module_cli.run_many(JOBS)


def test_every_playbook_has_a_test():
    names = {n.removeprefix("test_") for n in globals() if n.startswith("test_")}
    assert set(JOBS) <= names


def test_single(runs):
    # one task is labelled with its step's name; attempts count from 1
    assert runs["single"].result == ["start", 1]


def test_pipeline(runs):
    assert runs["pipeline"].result == {
        "first": 2,
        "second": {"x10": 20, "label": "second"},
        "prev": 20,
    }


def test_results_snapshot(runs):
    # `results` given to a task is the map of the tasks run before it, as a value
    assert runs["results_snapshot"].result == {"first": 1, "second": 2}


def test_workload_immutable(runs):
    # workload is read-only: a task mutating the value it was given changes nothing else
    assert runs["workload_immutable"].result == [1, 1]


def test_workbook(runs):
    assert runs["workbook"].result == 42


def test_set_ctx(runs):
    assert runs["set_ctx"].result == {"seven": 7, "by": "start", "eight": 8}


def test_set_vars_arcs(runs):
    assert runs["set_vars_arcs"].result == {"v": 10}


def test_set_iter(runs):
    # the first task cannot see set_iter of an earlier iteration; the second sees this one's
    assert runs["set_iter"].result["results"] == [
        [False, 9, 0, True, False],
        [False, 16, 1, False, False],
        [False, 25, 2, False, True],
    ]


def test_print_in_task(runs):
    # what a task prints must not break `--json`: stdout holds exactly one JSON object
    assert runs["print_in_task"].result == "quiet result"


def test_execution_id(runs):
    outcome = runs["execution_id"]
    assert outcome.result == outcome.execution_id


def test_unencodable_result(runs):
    # a result that cannot be stored (it contains itself) fails the step; the run still ends
    error = runs["unencodable_result"].error
    assert error["step"] == "start"


def test_unkeepable_result(runs):
    # NaN, Infinity, NUL and lone surrogates: the SQLite log kept them (and `--json` printed
    # NaN), PostgreSQL refused them; both modes now fail the step, naming where the value is
    error = runs["unkeepable_result"].error
    assert error["kind"] == "result"
    assert "result[1]: nan is not a JSON number" in error["message"]
