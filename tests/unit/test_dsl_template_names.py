"""Templates naming what no scope holds are refused at load, at the template's place.

Every document starts with the three header lines below, so the body begins on line 4.
"""

from __future__ import annotations

import textwrap

import pytest

from noetl.dsl.load import check_playbook, load_playbook
from noetl.errors import PlaybookError

HEAD = "apiVersion: noetl.io/v2\nkind: Playbook\nmetadata: {name: t}\n"


def doc(body: str) -> str:
    return HEAD + textwrap.dedent(body).lstrip("\n")


def unknown(text: str) -> list[tuple[str, int | None, int | None, str, str]]:
    _, problems = check_playbook(text, file="p.yaml")
    return [
        (p.severity, p.line, p.col, p.path, p.message)
        for p in problems
        if "reads unknown name" in p.message
    ]


def test_a_template_naming_no_step_is_an_error_at_its_field():
    text = doc(
        """
        workflow:
          - step: start
            tool: {kind: python, code: "result = 1"}
            next:
              - step: end
                when: "{{ nosuchstep.result > 0 }}"
          - step: end
            tool: {kind: noop, result: "{{ strat.x }}"}
        """
    )
    found = unknown(text)
    assert [(s, line, col, path) for s, line, col, path, _ in found] == [
        ("error", 9, 15, "workflow[0].next[0].when"),
        ("error", 11, 32, "workflow[1].tool.result"),
    ]
    assert "template of step 'start' reads unknown name 'nosuchstep'" in found[0][4]
    assert "did you mean 'start'?" in found[1][4]
    with pytest.raises(PlaybookError) as caught:
        load_playbook(text, file="p.yaml")  # the load before a run refuses it too
    assert "p.yaml:9:15: template of step 'start' reads unknown name 'nosuchstep'" in str(
        caught.value
    )


def test_every_name_the_runtime_gives_a_template_is_accepted():
    text = doc(
        """
        workload:
          n: 3
          stamp: "{{ now() }}-{{ uuid() }}-{{ job.uuid }}-{{ execution_id }}-{{ workload.n }}"
        workbook:
          - name: twice
            tool: {kind: python, args: {x: "{{ args.x }}"}, code: "result = x * 2"}
        workflow:
          - step: start
            when: "{{ workload.n > 0 and args.go | default(true) }}"
            loop: {in: "{{ range(workload.n) | list }}", iterator: k}
            tool:
              - first:
                  kind: python
                  args: {k: "{{ iter.k }}", i: "{{ iter.index }}", c: "{{ ctx.a is defined }}"}
                  code: "result = k"
                  eval:
                    - expr: "{{ outcome.status == 'error' and _attempt < 2 }}"
                      do: retry
                    - else: {do: continue, set_vars: {seen: "{{ _task }}"}}
              - second:
                  kind: workbook
                  name: twice
                  args: {x: "{{ _prev + results.first + vars.seen | length }}"}
            next:
              - step: end
                when: "{{ event.status == 'success' }}"
                args: {total: "{{ start.results | sum }}"}
          - step: end
            tool:
              kind: python
              args:
                s: "{% set ns = namespace(t=0) %}{% for r in start.results %}{{ r }}{% endfor %}"
                d: "{{ dict(a=1) }}"
                maybe: "{{ result.status if result is defined else 'none' }}"
              code: "result = s"
        """
    )
    playbook, problems = check_playbook(text, file="p.yaml")
    assert [str(p) for p in problems if p.severity != "warning"] == []
    assert playbook is not None


def test_start_only_names_are_refused_in_steps_with_why():
    text = doc(
        """
        workflow:
          - step: start
            tool: {kind: noop, result: "{{ now() }}"}
        """
    )
    [(severity, line, _, path, message)] = unknown(text)
    assert (severity, line, path) == ("error", 6, "workflow[0].tool.result")
    assert "'now' is only known to workload templates, rendered once at start" in message


def test_a_workload_template_sees_only_the_start_scope():
    text = doc(
        """
        workload:
          a: "{{ ctx.x }}"
        workflow:
          - step: start
        """
    )
    [(severity, line, col, path, message)] = unknown(text)
    assert (severity, line, col, path) == ("error", 5, 6, "workload.a")
    assert message.startswith("template of the workload (rendered once, at start)")


def test_a_workload_value_the_payload_must_give_only_warns():
    text = doc(
        """
        workload:
          password: "{{ password }}"
          user: {id: "{{ payload.user_id }}"}
          other: "{{ password }}"
        workflow:
          - step: start
        """
    )
    _, problems = check_playbook(text, file="p.yaml")
    found = [(p.severity, p.path, p.message) for p in problems if p.path.startswith("workload")]
    assert found == [
        (
            "warning",
            "workload.password",
            "workload.password reads 'password': a start whose payload gives 'password' "
            "replaces this template, one without it fails",
        ),
        (
            "warning",
            "workload.user.id",
            "workload.user reads 'payload': a start whose payload gives 'user' replaces this "
            "template, one without it fails",
        ),
        (
            "error",
            "workload.other",
            "template of the workload (rendered once, at start) reads unknown name 'password'"
            ": no step has that name, and it is no scope (workload, ctx, vars, iter, args, "
            "results, _prev, outcome, event...)",
        ),
    ]


def test_a_workbook_task_no_step_calls_only_warns():
    text = doc(
        """
        workbook:
          - name: outer
            tool: {kind: workbook, name: inner, args: {a: "{{ nope }}"}}
          - name: inner
            tool: {kind: noop, result: "{{ nope2 }}"}
          - name: never
            tool: {kind: noop, result: "{{ nope3 }}"}
        workflow:
          - step: start
            tool: {kind: workbook, name: outer}
        """
    )
    severities = {message.split("'")[3]: s for s, _, _, _, message in unknown(text)}
    assert severities == {"nope": "error", "nope2": "error", "nope3": "warning"}
