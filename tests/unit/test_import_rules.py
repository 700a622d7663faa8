"""The importer's conversion rules, one by one: NoETL's newer form and v1 -> canonical v2."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest

from noetl.dsl.check import Locator
from noetl.dsl.importer import import_document
from noetl.dsl.importer.expressions import Names, rewrite_text
from noetl.dsl.importer.forms import detect_form
from noetl.dsl.load import check_playbook, import_text

HEAD = "apiVersion: noetl.io/v2\nkind: Playbook\nmetadata: {name: t}\n"


def imported(body: str) -> dict[str, Any]:
    """The canonical document for HEAD + `body` (which must import without problems)."""
    result, problems = import_text(HEAD + textwrap.dedent(body), "t.yaml")
    assert result is not None and not [p for p in problems if p.severity == "error"], problems
    return dict(result.data)


def step(doc: dict[str, Any], index: int = 0) -> dict[str, Any]:
    return dict(doc["workflow"][index])


# --- form detection ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("doc", "form"),
    [
        ({"workflow": [{"step": "a", "next": [{"step": "b"}]}]}, "canonical"),
        ({"workflow": [{"step": "a", "next": {"arcs": [{"step": "b"}]}}]}, "noetl"),
        ({"workflow": [{"step": "a", "tool": {"kind": "python", "input": {}}}]}, "noetl"),
        ({"workflow": [{"step": "a", "tool": [{"name": "x", "kind": "noop"}]}]}, "noetl"),
        ({"workflow": [{"step": "a", "type": "python"}]}, "v1"),
        ({"apiVersion": "noetl.io/v1", "workflow": []}, "v1"),
        ({"workflow": [{"step": "a", "next": [{"when": "x", "then": ["b"]}]}]}, "v1"),
    ],
)
def test_form_is_detected_from_constructs(doc: dict[str, Any], form: str):
    assert detect_form(doc)[0] == form


def test_a_canonical_document_comes_back_unchanged():
    doc = {
        "apiVersion": "noetl.io/v2",
        "kind": "Playbook",
        "metadata": {"name": "t"},
        "workflow": [{"step": "start", "tool": {"kind": "noop"}}],
    }
    result = import_document(doc, Locator("t.yaml"))
    assert result.data is doc and not result.converted and result.notes == []


# --- next: arcs, mode, set ----------------------------------------------------------------------


def test_next_arcs_and_mode_become_arcs_and_next_mode():
    doc = imported("""
        workflow:
          - step: start
            next:
              spec: {mode: inclusive}
              arcs:
                - step: a
                  when: "{{ start.ok }}"
                - step: b
          - step: a
          - step: b
    """)
    assert step(doc)["next"] == [{"step": "a", "when": "{{ start.ok }}"}, {"step": "b"}]
    assert step(doc)["spec"] == {"next_mode": "inclusive"}


def test_next_on_no_match_quiet_is_the_engine_s_own_behaviour_and_others_are_refused():
    body = """\
        workflow:
          - step: a
            next:
              spec: {mode: exclusive, on_no_match: MODE}
              arcs: [{step: b, when: "{{ 1 > 2 }}"}]
          - step: b
        """
    assert step(imported(body.replace("MODE", "quiet")))["spec"] == {"next_mode": "exclusive"}
    _, problems = import_text(HEAD + textwrap.dedent(body.replace("MODE", "fail")), "t.yaml")
    assert [p.path for p in problems] == ["workflow[0].next.spec.on_no_match"]


def test_arc_set_of_ctx_becomes_the_arcs_set_ctx():
    doc = imported("""
        workload: {limit: 3}
        workflow:
          - step: start
            next: {arcs: [{step: b, set: {ctx.cap: "{{ limit }}"}}]}
          - step: b
    """)
    assert step(doc)["next"] == [{"step": "b", "set_ctx": {"cap": "{{ workload.limit }}"}}]


def test_step_set_becomes_the_steps_set_ctx_with_result_and_output_as_the_step():
    doc = imported("""
        workflow:
          - step: start
            tool: {kind: python, code: "result = 1"}
            set: {ctx.a: "{{ result }}", ctx.b: "{{ output.data.x }}"}
    """)
    assert step(doc)["set_ctx"] == {"a": "{{ start }}", "b": "{{ start.x }}"}


def test_step_set_of_a_non_ctx_name_is_refused_at_its_place():
    _, problems = import_text(HEAD + "workflow:\n  - step: a\n    set: {x: 1}\n", "t.yaml")
    assert [str(p) for p in problems] == [
        "t.yaml:6:5: a step's 'set' can only set ctx.NAME (found a vars name) (workflow[0].set)"
    ]


# --- rules ----------------------------------------------------------------


def test_policy_rules_become_eval_rules_with_outcome_names():
    doc = imported("""
        workflow:
          - step: start
            tool:
              kind: http
              url: http://x
              spec:
                policy:
                  rules:
                    - when: "{{ output.http.status in [500, 503] }}"
                      then: {do: retry, attempts: 4, backoff: exponential, delay: 0.5}
                    - when: "{{ output.status == 'ok' }}"
                      then: {do: continue, set: {ctx.last: "{{ output.data.id }}", n: 1}}
                    - else:
                        then: {do: fail}
    """)
    assert step(doc)["tool"]["eval"] == [
        {
            "expr": "{{ outcome.http.status in [500, 503] }}",
            "do": "retry",
            "attempts": 4,
            "backoff": "exponential",
            "delay": 0.5,
        },
        {
            "expr": "{{ outcome.status == 'success' }}",
            "do": "continue",
            "set_ctx": {"last": "{{ outcome.result.id }}"},
            "set_vars": {"n": 1},
        },
        {"else": {"do": "fail"}},
    ]


def test_an_unknown_rule_action_field_is_refused():
    _, problems = import_text(
        HEAD + "workflow:\n  - step: a\n    tool:\n      kind: noop\n      spec:\n"
        "        policy:\n          rules:\n            - when: x\n"
        "              then: {do: retry, jitter: 2}\n",
        "t.yaml",
    )
    assert [p.message for p in problems] == ["cannot convert rule action field 'jitter'"]
    assert (problems[0].line, problems[0].path) == (
        12,
        "workflow[0].tool.spec.policy.rules[0].then.jitter",
    )


def test_task_level_set_joins_the_success_rules_and_names_a_step_variable():
    doc = imported("""
        workflow:
          - step: start
            tool:
              - name: get
                kind: noop
                result: {id: 7}
                set: {got: "{{ output }}"}
              - name: use
                kind: python
                input: {v: "{{ got.id }}", first: "{{ get.id }}"}
                code: "result = v"
    """)
    get, use = step(doc)["tool"]
    assert get["get"]["eval"] == [
        {
            "expr": "{{ outcome.status == 'success' }}",
            "do": "continue",
            "set_vars": {"got": "{{ outcome.result }}"},
        }
    ]
    assert use["use"]["args"] == {"v": "{{ vars.got.id }}", "first": "{{ results.get.id }}"}


# --- tasks ----------------------------------------------------------------


def test_input_becomes_args_and_step_input_is_every_tasks_default():
    doc = imported("""
        workflow:
          - step: start
            input: {a: 1, b: 2}
            tool:
              - name: one
                kind: python
                input: {b: 3}
                code: "result = a + b"
    """)
    assert step(doc)["tool"][0]["one"]["args"] == {"a": 1, "b": 3}


def test_database_aliases_become_query_and_auth():
    doc = imported("""
        workflow:
          - step: start
            tool: {kind: postgres, credential: pg, command: "select 1", pool: {max_size: 2}}
    """)
    assert step(doc)["tool"] == {"kind": "postgres", "auth": "pg", "query": "select 1"}


def test_python_libs_input_data_and_top_level_return():
    doc = imported("""
        workflow:
          - step: start
            tool:
              kind: python
              libs: {j: json, dt: {from: datetime, import: date}}
              input: {x: 1}
              code: "return j.dumps(input_data)"
    """)
    tool = step(doc)["tool"]
    assert tool["args"] == {"x": 1, "input_data": {"x": 1}}
    assert tool["code"] == (
        "def main(**_args):\n    import json as j\n    from datetime import date as dt\n"
        "    return j.dumps(input_data)\n"
    )


def test_python_script_from_a_file_is_read_on_import(tmp_path):
    (tmp_path / "s.py").write_text("def main(n):\n    return n * 2\n")
    text = HEAD + (
        "workload: {path: s.py}\nworkflow:\n  - step: start\n    tool:\n      kind: python\n"
        "      script: {uri: '{{ path }}', source: {type: file}}\n      input: {n: 2}\n"
    )
    file = tmp_path / "p.yaml"
    file.write_text(text)
    result, problems = import_text(text, str(file), scripts_from=tmp_path)
    assert result is not None, problems
    assert result.data["workflow"][0]["tool"]["code"] == "def main(n):\n    return n * 2\n"


def test_text_handed_over_reads_no_script_file_of_the_loading_machine(tmp_path):
    # A server loads playbooks sent as text: a `script.uri` there must not read the server's
    # own files (it would run, and report in errors, whatever the file holds).
    secret = tmp_path / "server-only.txt"
    secret.write_text("server_secret_value\n")
    text = HEAD + (
        "workflow:\n  - step: start\n    tool:\n      kind: python\n"
        f"      script: {{uri: '{secret}', source: {{type: file}}}}\n"
    )
    for loaded in (
        check_playbook(text, file=str(tmp_path / "named-by-the-client.yaml")),
        import_text(text, str(tmp_path / "named-by-the-client.yaml")),
    ):
        result, problems = loaded
        assert result is None
        assert "read only when the playbook is loaded from a local file" in problems[0].message
        assert problems[0].path == "workflow[0].tool.script.uri"
    # The same playbook read from its file (`noetl run FILE`, `noetl import`) reads the script.
    file = tmp_path / "p.yaml"
    file.write_text(text)
    playbook, problems = check_playbook(file)
    assert playbook is not None, problems
    assert playbook.steps[0].tasks[0].config["code"] == "server_secret_value\n"


def test_a_script_from_cloud_storage_is_refused():
    _, problems = import_text(
        HEAD + "workflow:\n  - step: a\n    tool:\n      kind: python\n"
        "      script: {uri: gs://b/x.py, source: {type: gcs}}\n",
        "t.yaml",
    )
    assert "cannot import a script from source type 'gcs'" in problems[0].message
    assert problems[0].path == "workflow[0].tool.script.source"


# --- names in templates ----------------------------------------------------------------


def test_bare_workload_keys_and_iterators_get_their_scope():
    doc = imported("""
        workload: {users: [a], greeting: hi}
        workflow:
          - step: start
            loop: {in: "{{ users }}", iterator: user, spec: {mode: parallel}}
            tool: {kind: python, input: {u: "{{ greeting }} {{ user }} {{ loop_index }}"},
                   code: "result = u"}
    """)
    assert step(doc)["loop"]["in"] == "{{ workload.users }}"
    assert step(doc)["tool"]["args"] == {
        "u": "{{ workload.greeting }} {{ iter.user }} {{ iter.index }}"
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{ x.y | default(z) }}", "{{ workload.x.y | default(workload.z) }}"),
        (
            "{{ a.x }}{% for u in x %}{{ u }}{% endfor %}",
            "{{ a.x }}{% for u in workload.x %}{{ u }}{% endfor %}",
        ),
        ("{{ f(x=1) is defined }}", "{{ f(x=1) is defined }}"),
        ("{{ 'x' ~ y }}", "{{ 'x' ~ y }}"),
        ("not a template {x}", "not a template {x}"),
        ("{{ broken", "{{ broken"),
    ],
)
def test_rewriting_touches_only_free_root_names(text: str, expected: str):
    assert rewrite_text(text, Names({"x": "workload.x", "z": "workload.z"})) == expected


def test_step_data_reads_the_result_and_loop_data_the_iteration_results():
    names = Names({}, steps=frozenset({"a"}), loop_steps=frozenset({"l"}))
    assert rewrite_text("{{ a.data.k }} {{ l.data }}", names) == (
        "{{ (a.data if a.data is defined else a).k }} {{ l.results }}"
    )


def test_a_bare_step_that_may_not_have_run_reads_as_none():
    names = Names({}, steps=frozenset({"a", "b"}), output_step="b")
    assert rewrite_text("{{ a.x if a else b }}", names) == (
        "{{ a.x if (a if a is defined else none) else b }}"
    )


def test_output_error_fields_and_database_statements():
    names = Names({}, True, sql=frozenset({"output", "q"}))
    assert (
        rewrite_text(
            "{{ output.error.status }} {{ output.error.kind }} {{ q.command_0.rows }}", names
        )
        == "{{ outcome.error.status_code }} {{ outcome.error.category }} {{ q.rows }}"
    )


# --- graph ----------------------------------------------------------------


def test_steps_without_next_go_to_end_and_inclusive_branches_join_there():
    doc = imported("""
        workflow:
          - step: start
            next: {spec: {mode: inclusive}, arcs: [{step: a}, {step: b}]}
          - step: a
          - step: b
          - step: end
    """)
    assert step(doc, 1)["next"] == [{"step": "end"}]
    assert step(doc, 3)["spec"] == {"join": "all"}
    assert "next" not in step(doc, 3)


# --- metadata, root ----------------------------------------------------------------


def test_string_versions_and_extra_metadata_become_labels():
    result, _ = import_text(
        "apiVersion: noetl.io/v2\nkind: Playbook\n"
        "metadata: {name: t, version: '1.2', tags: [x]}\nworkflow:\n  - step: a\n"
        "    next: {arcs: []}\n",
        "t.yaml",
    )
    assert result is not None
    assert result.data["metadata"] == {"name": "t", "labels": {"version": "1.2", "tags": ["x"]}}


def test_an_unknown_root_section_is_refused():
    _, problems = import_text(HEAD + "keychain: []\nworkflow:\n  - step: a\n", "t.yaml")
    assert [str(p) for p in problems] == [
        "t.yaml:4:1: cannot convert the root section 'keychain' (keychain)"
    ]


def test_a_loop_cursor_without_a_claim_query_is_refused_at_its_place():
    _, problems = import_text(
        HEAD + "workflow:\n  - step: a\n    loop:\n      cursor: {kind: postgres}\n"
        "      spec: {policy: {exec: distributed}}\n    tool: {kind: noop}\n",
        "t.yaml",
    )
    assert [(p.line, p.col, p.path) for p in problems] == [(7, 7, "workflow[0].loop.cursor")]
    assert "needs a 'claim' query" in problems[0].message


CURSOR_STEP = """\
    workload: {width: 3}
    workflow:
      - step: drain
        loop:
          cursor: {kind: postgres, auth: pg_local, claim: "SELECT id LIMIT {{ __frame_max_rows }}"}
          iterator: job
          spec: {mode: cursor, max_in_flight: MAX, frame: {max_rows: 5, lease_seconds: 60%s}}
        tool:
          - name: work
            kind: python
            input: {id: "{{ job.id }}"}
            code: "result = id"
            spec: {policy: {rules: [{when: "{{ output.status == 'ok' }}", then: {do: break}}]}}
"""


def test_a_cursor_loop_becomes_parallel_drainers_that_claim_until_empty():
    drain = step(imported(CURSOR_STEP.replace("MAX", "2") % ""))
    assert drain["loop"] == {
        "in": [0, 1],
        "iterator": "cursor_worker",
        "spec": {"mode": "parallel", "max_in_flight": 2},
    }
    labels = [next(iter(task)) for task in drain["tool"]]
    assert labels == ["cursor_claim", "cursor_row", "work", "cursor_next"]
    claim = drain["tool"][0]["cursor_claim"]
    assert claim["query"] == "SELECT id LIMIT {{ 5 }}"  # frame.max_rows in __frame_max_rows
    assert (claim["kind"], claim["auth"]) == ("postgres", "pg_local")
    assert claim["eval"][0]["do"] == "break"  # no row claimed: this drainer is done
    row_rules = drain["tool"][1]["cursor_row"]["eval"]
    assert row_rules[0] == {
        "expr": "{{ vars.cursor_index >= (vars.cursor_rows | length) }}",
        "do": "jump",
        "to": "cursor_claim",
    }
    assert row_rules[1]["else"]["set_iter"] == {"job": "{{ vars.cursor_rows[vars.cursor_index] }}"}
    work = drain["tool"][2]["work"]
    assert work["args"] == {"id": "{{ iter.job.id }}"}  # the row, set by cursor_row
    assert work["eval"][0]["do"] == "jump" and work["eval"][0]["to"] == "cursor_next"


def test_a_cursor_loop_of_frames_and_a_template_width():
    body = CURSOR_STEP.replace("MAX", '"{{ width }}"') % ", process: frame"
    drain = step(imported(body))
    assert drain["loop"]["in"] == "{{ range((workload.width) | int) | list }}"
    assert drain["loop"]["spec"]["max_in_flight"] == "{{ workload.width }}"
    labels = [next(iter(task)) for task in drain["tool"]]
    assert labels == ["cursor_claim", "work", "cursor_next"]
    claim_rules = drain["tool"][0]["cursor_claim"]["eval"]
    assert claim_rules[1]["set_iter"] == {"job": "{{ outcome.result.rows }}"}
    assert drain["tool"][2]["cursor_next"]["eval"] == [
        {"else": {"do": "jump", "to": "cursor_claim"}}
    ]


def test_a_cursor_of_another_kind_is_refused_naming_it():
    body = CURSOR_STEP.replace("MAX", "1").replace("kind: postgres", "kind: mysql") % ""
    _, problems = import_text(HEAD + textwrap.dedent(body), "t.yaml")
    assert [(p.path, p.message) for p in problems] == [
        ("workflow[0].loop.cursor.kind", "cannot convert a cursor of kind 'mysql'")
    ]


# --- v1 ----------------------------------------------------------------


def test_v1_type_with_and_when_then_else_become_v2():
    result, problems = import_text(
        textwrap.dedent("""\
            apiVersion: noetl.io/v1
            kind: Playbook
            metadata: {name: old}
            workload: {n: 2}
            workflow:
              - step: start
                type: python
                with: {n: "{{ n }}"}
                code: "result = n * 2"
                next:
                  - when: "{{ start > 3 }}"
                    then: [{step: big, with: {v: "{{ start }}"}}]
                  - else: [small]
              - step: big
              - step: small
        """),
        "old.yaml",
    )
    assert result is not None, problems
    first = result.data["workflow"][0]
    assert result.data["apiVersion"] == "noetl.io/v2"
    assert first["tool"] == {
        "kind": "python",
        "args": {"n": "{{ workload.n }}"},
        "code": "result = n * 2",
    }
    assert first["next"] == [
        {"step": "big", "when": "{{ start > 3 }}", "args": {"v": "{{ start }}"}},
        {"step": "small"},
    ]


def test_v1_case_blocks_are_refused():
    _, problems = import_text(
        "apiVersion: noetl.io/v1\nkind: Playbook\nmetadata: {name: t}\nworkflow:\n"
        "  - step: a\n    type: http\n    case: []\n",
        "t.yaml",
    )
    assert problems[0].message.startswith("cannot convert a v1 'case' block")
    assert (problems[0].line, problems[0].col) == (7, 5)


def test_a_half_converted_step_is_reported():
    _, problems = check_playbook(
        HEAD + "workflow:\n  - step: a\n    type: python\n    tool: {kind: python, code: x}\n",
        file="h.yaml",
    )
    assert [str(p) for p in problems] == [
        "h.yaml:6:5: half-converted step: v1 'type' beside a v2 'tool'; write the step in one "
        "form (`noetl import` converts a whole file) (workflow[0].type)"
    ]


# --- positions ----------------------------------------------------------------


def test_problems_of_a_converted_playbook_point_at_the_original_file():
    playbook, problems = check_playbook(
        HEAD + "workflow:\n  - step: start\n    next:\n      arcs:\n        - step: nowhere\n",
        file="p.yaml",
    )
    assert playbook is None
    errors = [p for p in problems if p.severity == "error"]
    assert [(p.line, p.col) for p in errors] == [(8, 17)]
    assert "unknown step 'nowhere'" in errors[0].message
    notices = [p for p in problems if p.severity == "notice"]
    assert len(notices) == 1 and "imported from the NoETL form" in notices[0].message
