"""Loading valid playbooks: the PlaybookDef produced, defaults, sources and positions."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from noetl.dsl.check import format_path
from noetl.dsl.load import check_playbook, load_playbook
from noetl.dsl.model import parse_duration
from noetl.dsl.templates import RENDERER
from noetl.engine.definition import Arc, EvalRule, LoopDef, TaskDef

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

FULL = textwrap.dedent(
    """
    apiVersion: noetl.io/v2
    kind: Playbook
    metadata:
      name: full
      path: tests/full
      version: 3
      description: every field
      labels: {team: data}
    executor: {kind: auto, spec: {pool: gpu}}
    workload: {items: [1, 2], api: "http://127.0.0.1:9"}
    workbook:
      - name: double
        tool: {kind: python, args: {x: "{{ args.x }}"}, code: "result = 2 * x", timeout: 2s}
    workflow:
      - step: first
        next: main
      - step: main
        desc: the busy one
        when: "{{ workload.items | length > 0 }}"
        spec: {next_mode: inclusive, join: all, timeout: 5m}
        loop:
          in: "{{ workload.items }}"
          iterator: n
          spec: {mode: parallel}
        tool:
          - get:
              kind: http
              url: "{{ workload.api }}/x"
              method: GET
              timeout: 500ms
              eval:
                - expr: "{{ outcome.status == 'error' }}"
                  do: retry
                  delay: 1
                - expr: "{{ outcome.result.more }}"
                  do: jump
                  to: get
                  set_vars: {page: "{{ vars.page + 1 }}"}
                - else: {do: continue, set_ctx: {seen: true}, set_iter: {ok: true}}
          - twice:
              kind: workbook
              name: double
              args: {x: "{{ iter.n }}"}
        next:
          - step: end
            when: "{{ event.status == 'error' }}"
            args: {why: "{{ event.error.message }}"}
          - end
      - step: end
        loop: {in: [1, 2]}
        tool: {kind: noop, result: 1}
    """
)


@pytest.fixture(scope="module")
def full():
    return load_playbook(FULL, file="full.yaml")


def test_playbook_level_fields(full):
    assert full.name == "full"
    assert full.path == "tests/full"
    assert full.version == 3
    assert full.description == "every field"
    assert full.metadata["labels"] == {"team": "data"}
    assert full.pool == "gpu"
    assert full.workload == {"items": [1, 2], "api": "http://127.0.0.1:9"}
    assert full.renderer is RENDERER
    assert full.source_file == "full.yaml"
    assert full.entry == "first"
    assert [s.name for s in full.steps] == ["first", "main", "end"]


def test_step_fields(full):
    main = full.step("main")
    assert main.desc == "the busy one"
    assert main.when == "{{ workload.items | length > 0 }}"
    assert (main.next_mode, main.join, main.timeout) == ("inclusive", "all", 300.0)
    assert main.loop == LoopDef(
        in_="{{ workload.items }}", iterator="n", mode="parallel", max_in_flight=10
    )
    assert full.step("end").loop == LoopDef(
        in_=[1, 2], iterator="item", mode="sequential", max_in_flight=1
    )


def test_arcs_and_the_name_shorthand(full):
    assert full.step("first").next == (Arc(step="main"),)
    assert full.step("main").next == (
        Arc(
            step="end",
            when="{{ event.status == 'error' }}",
            args={"why": "{{ event.error.message }}"},
        ),
        Arc(step="end"),
    )


def test_pipeline_tasks_keep_only_the_kinds_own_fields_in_config(full):
    get, twice = full.step("main").tasks
    assert get.label == "get"
    assert get.kind == "http"
    assert get.config == {"url": "{{ workload.api }}/x", "method": "GET"}
    assert get.timeout == 0.5
    assert twice == TaskDef(
        label="twice", kind="workbook", config={"name": "double"}, args={"x": "{{ iter.n }}"}
    )


def test_eval_rules_and_their_defaults(full):
    retry, jump, other = full.step("main").tasks[0].eval
    assert retry == EvalRule(
        do="retry", expr="{{ outcome.status == 'error' }}", attempts=3, backoff="fixed", delay=1.0
    )
    assert jump.do == "jump" and jump.to == "get" and jump.backoff == "none"
    assert jump.set_vars == {"page": "{{ vars.page + 1 }}"}
    assert other == EvalRule(
        do="continue", expr=None, set_ctx={"seen": True}, set_iter={"ok": True}
    )


def test_single_task_is_labelled_with_the_step_name(full):
    (task,) = full.step("end").tasks
    assert task == TaskDef(label="end", kind="noop", config={"result": 1})


def test_routing_step_has_no_tasks(full):
    assert full.step("first").tasks == ()


def test_workbook_entries_become_task_defs_keyed_by_name(full):
    assert full.workbook == {
        "double": TaskDef(
            label="double",
            kind="python",
            config={"code": "result = 2 * x"},
            args={"x": "{{ args.x }}"},
            timeout=2.0,
        )
    }


def test_explicit_backoff_and_attempts_are_kept():
    indent = " " * 14  # of the retry rule's fields in FULL
    text = FULL.replace(
        f"{indent}delay: 1\n", f"{indent}delay: 1\n{indent}attempts: 7\n{indent}backoff: linear\n"
    )
    rule = load_playbook(text).step("main").tasks[0].eval[0]
    assert (rule.attempts, rule.backoff, rule.delay) == (7, "linear", 1.0)


def test_sources_path_string_and_dict_give_the_same_definition(tmp_path):
    file = tmp_path / "p.yaml"
    file.write_text(FULL)
    from_path = load_playbook(file)
    from_text = load_playbook(FULL)
    from_dict = load_playbook(yaml.safe_load(FULL))
    assert from_path.source_file == str(file)
    assert from_text.source_file is None
    assert from_path.steps == from_text.steps == from_dict.steps
    assert from_path.workbook == from_dict.workbook


def test_a_loaded_dict_does_not_alias_the_callers_data():
    data = yaml.safe_load(FULL)
    playbook = load_playbook(data)
    data["workload"]["items"].append(99)
    assert playbook.workload["items"] == [1, 2]


def test_problems_from_a_dict_have_paths_but_no_positions():
    data = yaml.safe_load(FULL)
    data["workflow"][1]["nxt"] = 1
    _, problems = check_playbook(data, file="mem")
    assert [(p.path, p.line) for p in problems] == [("workflow[1].nxt", None)]


def test_anchors_aliases_and_merge_keys_load():
    text = textwrap.dedent(
        """
        apiVersion: noetl.io/v2
        kind: Playbook
        metadata: {name: anchors}
        workflow:
          - &base
            step: a
            tool: {kind: noop, result: 1}
            next: b
          - <<: *base
            step: b
            next: []
        """
    )
    playbook = load_playbook(text)
    assert playbook.step("b").tasks[0].config == {"result": 1}
    assert playbook.step("b").next == ()


def test_merged_keys_are_not_duplicates_and_errors_in_them_still_have_a_line():
    text = textwrap.dedent(
        """
        apiVersion: noetl.io/v2
        kind: Playbook
        metadata: {name: anchors}
        workflow:
          - &base
            step: a
            nxt: a
          - <<: *base
            step: b
        """
    )
    _, problems = check_playbook(text)
    assert [(p.path, p.line) for p in problems] == [
        ("workflow[0].nxt", 8),
        ("workflow[1].nxt", 9),  # the merged key has no place of its own: its mapping's line
    ]


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("30s", 30.0),
        ("5m", 300.0),
        ("500ms", 0.5),
        ("1h", 3600.0),
        (2, 2.0),
        (0.25, 0.25),
        ("1.5s", 1.5),
        ("10", 10.0),
    ],
)
def test_durations(value, seconds):
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", ["5 minutes", "-1s", -3, True, "s", [1]])
def test_bad_durations(value):
    with pytest.raises(ValueError, match="duration"):
        parse_duration(value)


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ((), ""),
        (("workflow", 3, "tool", 0, "get", "eval", 0, "do"), "workflow[3].tool.get.eval[0].do"),
        (("workflow", 3, "tool", 0), "workflow[3].tool[0]"),
        (("workbook", 0, "tool", "args"), "workbook[0].tool.args"),
        (("workload", "a", 1, "b"), "workload.a[1].b"),
    ],
)
def test_format_path(path, text):
    assert format_path(path) == text


@pytest.mark.parametrize("example", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_every_example_is_valid_without_warnings(example):
    playbook, problems = check_playbook(example)
    assert problems == []
    assert playbook is not None


def test_the_required_examples_exist():
    names = {p.name for p in EXAMPLES.glob("*.yaml")}
    required = {
        "hello.yaml",
        "retry_backoff.yaml",
        "pagination.yaml",
        "fanout_join.yaml",
        "parallel_loop.yaml",
        "failure_routing.yaml",
    }
    assert required <= names
    assert len(names) >= 6


def test_every_example_starts_with_a_comment_header():
    for example in EXAMPLES.glob("*.yaml"):
        lines = example.read_text().splitlines()
        assert lines[0].startswith(f"# {example.name} - "), example.name
        assert lines[1].startswith("# Shows:"), example.name


def test_plugin_kinds_from_entry_points_are_known_and_their_fields_unchecked(monkeypatch):
    from importlib.metadata import EntryPoint

    from noetl.dsl import check, kinds

    plugin = EntryPoint(name="s3_put", value="plugin:S3Tool", group="noetl.tools")
    monkeypatch.setattr(kinds, "entry_points", lambda group: [plugin])
    check.known_kinds.cache_clear()
    try:
        text = FULL.replace("tool: {kind: noop, result: 1}", "tool: {kind: s3_put, bucket: b}")
        playbook = load_playbook(text)
        assert playbook.step("end").tasks[0].config == {"bucket": "b"}
        _, problems = check_playbook(text.replace("kind: s3_put", "kind: s3_pt"))
        assert "did you mean 's3_put'?" in problems[0].message
        assert "s3_put" in problems[0].message.split("known kinds:")[1]
    finally:
        check.known_kinds.cache_clear()
