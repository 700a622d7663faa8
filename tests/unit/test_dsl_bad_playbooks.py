"""Bad playbooks: each case asserts the message, the line and the document path of its problem.

Every document starts with the three header lines below, so the case body begins on line 4.
"""

from __future__ import annotations

import json
import textwrap

import pytest

from noetl.dsl.load import check_playbook, load_playbook
from noetl.errors import PlaybookError, Problem

HEAD = "apiVersion: noetl.io/v2\nkind: Playbook\nmetadata: {name: t}\n"


def doc(body: str) -> str:
    return HEAD + textwrap.dedent(body).lstrip("\n")


# (case id, document, message fragment, line, path)
CASES = [
    # --- YAML ------------------------------------------------------------------------------
    (
        "yaml-unclosed-flow",
        doc("workflow:\n  - step: a\n    next: [b, c\n"),
        "invalid YAML",
        7,
        "",
    ),
    (
        "yaml-bad-indent",
        doc("workflow:\n  - step: a\n   tool: {kind: noop}\n"),
        "invalid YAML",
        6,
        "",
    ),
    (
        "yaml-two-documents",
        doc("workflow: [{step: a}]\n---\nother: 1\n"),
        "expected a single document",
        5,
        "",
    ),
    (
        "yaml-duplicate-key",
        doc("workflow:\n  - step: a\n    step: b\n"),
        "duplicate key 'step' (first defined at line 5)",
        6,
        "workflow[0].step",
    ),
    # --- root --------------------------------------------------------------------------------
    (
        "root-vars",
        doc("vars: {a: 1}\nworkflow: [{step: a}]\n"),
        "root 'vars' is not allowed; use workload, ctx (set_ctx) or step vars",
        4,
        "vars",
    ),
    (
        "root-unknown-key",
        doc("workflow: [{step: a}]\nworkloads: {}\n"),
        "unknown field 'workloads'; did you mean 'workload'?",
        5,
        "workloads",
    ),
    (
        "root-api-version",
        "apiVersion: noetl.io/v3\nkind: Playbook\nmetadata: {name: t}\nworkflow: [{step: a}]\n",
        "invalid value 'noetl.io/v3': expected 'noetl.io/v2'",
        1,
        "apiVersion",
    ),
    (
        "root-kind",
        "apiVersion: noetl.io/v2\nkind: Playbok\nmetadata: {name: t}\nworkflow: [{step: a}]\n",
        "did you mean 'Playbook'?",
        2,
        "kind",
    ),
    (
        "metadata-missing-name",
        "apiVersion: noetl.io/v2\nkind: Playbook\nmetadata:\n  path: x\nworkflow: [{step: a}]\n",
        "missing required field 'name'",
        4,
        "metadata.name",
    ),
    (
        "workflow-missing",
        doc("workload: {a: 1}\n"),
        "missing required field 'workflow'",
        1,
        "workflow",
    ),
    (
        "workflow-empty",
        doc("workflow: []\n"),
        "workflow is empty",
        4,
        "workflow",
    ),
    (
        "executor-unknown-key",
        doc("executor: {kind: auto, spec: {pol: x}}\nworkflow: [{step: a}]\n"),
        "unknown field 'pol'; did you mean 'pool'?",
        4,
        "executor.spec.pol",
    ),
    (
        "executor-unknown-kind",
        doc("executor: {kind: kubernetes}\nworkflow: [{step: a}]\n"),
        "invalid value 'kubernetes': expected 'auto'",
        4,
        "executor.kind",
    ),
    # --- steps -------------------------------------------------------------------------------
    (
        "step-unknown-key",
        doc("workflow:\n  - step: a\n    nxt: b\n"),
        "unknown field 'nxt'; did you mean 'next'?",
        6,
        "workflow[0].nxt",
    ),
    (
        "step-name-not-string",
        doc("workflow:\n  - step: [a]\n"),
        "expected a string",
        5,
        "workflow[0].step",
    ),
    (
        "step-duplicate-name",
        doc("workflow:\n  - step: a\n    next: a\n  - step: a\n"),
        "duplicate step name 'a' (first defined at line 5)",
        7,
        "workflow[1].step",
    ),
    (
        "step-next-mode",
        doc("workflow:\n  - step: a\n    spec: {next_mode: inclusiv}\n"),
        "did you mean 'inclusive'?",
        6,
        "workflow[0].spec.next_mode",
    ),
    (
        "step-join",
        doc("workflow:\n  - step: a\n    spec:\n      join: every\n"),
        "expected 'any' or 'all'",
        7,
        "workflow[0].spec.join",
    ),
    (
        "step-timeout",
        doc("workflow:\n  - step: a\n    spec: {timeout: 5 minutes}\n"),
        "expected a duration like '30s'",
        6,
        "workflow[0].spec.timeout",
    ),
    # --- next ------------------------------------------------------------------------------
    (
        "next-unknown-step",
        doc("workflow:\n  - step: a\n    next:\n      - step: ned\n  - step: end\n"),
        "next: unknown step 'ned'; did you mean 'end'?",
        7,
        "workflow[0].next[0].step",
    ),
    (
        "next-shorthand-unknown-step",
        doc("workflow:\n  - step: a\n    next: nowhere\n"),
        "next: unknown step 'nowhere'",
        6,
        "workflow[0].next",
    ),
    (
        "next-arc-unknown-key",
        doc("workflow:\n  - step: a\n    next:\n      - step: a\n        whn: x\n"),
        "unknown field 'whn'; did you mean 'when'?",
        8,
        "workflow[0].next[0].whn",
    ),
    (
        "next-not-a-list",
        doc("workflow:\n  - step: a\n    next: 3\n"),
        "expected a list, got 3",
        6,
        "workflow[0].next",
    ),
    # --- tool --------------------------------------------------------------------------------
    (
        "tool-not-a-mapping",
        doc("workflow:\n  - step: a\n    tool: python\n"),
        "tool must be one task",
        6,
        "workflow[0].tool",
    ),
    (
        "tool-missing-kind",
        doc("workflow:\n  - step: a\n    tool: {code: x}\n"),
        "missing required field 'kind'",
        6,
        "workflow[0].tool.kind",
    ),
    (
        "tool-unknown-kind",
        doc("workflow:\n  - step: a\n    tool:\n      kind: pyhton\n"),
        "unknown tool kind 'pyhton'; did you mean 'python'? (known kinds: duckdb, http",
        7,
        "workflow[0].tool.kind",
    ),
    (
        "tool-unknown-field-for-kind",
        doc(
            "workflow:\n  - step: a\n    tool:\n      - run:\n          kind: python\n"
            "          cod: x\n"
        ),
        "unknown field 'cod' for tool kind 'python'; did you mean 'code'? (allowed: args, code",
        9,
        "workflow[0].tool.run.cod",
    ),
    (
        "tool-missing-required-field",
        doc("workflow:\n  - step: a\n    tool:\n      kind: http\n      method: GET\n"),
        "tool kind 'http' needs field 'url'",
        7,
        "workflow[0].tool.kind",
    ),
    (
        "tool-args-not-mapping",
        doc("workflow:\n  - step: a\n    tool: {kind: noop, args: [1, 2]}\n"),
        "expected a mapping",
        6,
        "workflow[0].tool.args",
    ),
    (
        "task-timeout",
        doc("workflow:\n  - step: a\n    tool:\n      kind: noop\n      timeout: soon\n"),
        "expected a duration like '30s'",
        8,
        "workflow[0].tool.timeout",
    ),
    (
        "pipeline-entry-two-labels",
        doc(
            "workflow:\n  - step: a\n    tool:\n      - x: {kind: noop}\n        y: {kind: noop}\n"
        ),
        "exactly one key, the task label",
        7,
        "workflow[0].tool[0]",
    ),
    (
        "pipeline-duplicate-label",
        doc(
            "workflow:\n  - step: a\n    tool:\n      - x: {kind: noop}\n      - x: {kind: noop}\n"
        ),
        "duplicate task label 'x'",
        8,
        "workflow[0].tool.x",
    ),
    # --- eval --------------------------------------------------------------------------------
    (
        "eval-unknown-action",
        doc(
            "workflow:\n  - step: a\n    tool:\n      - get:\n          kind: noop\n"
            "          eval:\n            - expr: '{{ true }}'\n              do: retri\n"
        ),
        "invalid value 'retri': expected 'continue', 'retry', 'jump', 'break' or 'fail';"
        " did you mean 'retry'?",
        11,
        "workflow[0].tool.get.eval[0].do",
    ),
    (
        "eval-missing-do",
        doc(
            "workflow:\n  - step: a\n    tool:\n      kind: noop\n      eval:\n"
            "        - expr: '{{ true }}'\n"
        ),
        "an eval rule needs 'do'",
        9,
        "workflow[0].tool.eval[0]",
    ),
    (
        "eval-missing-expr",
        doc(
            "workflow:\n  - step: a\n    tool:\n      kind: noop\n      eval:\n"
            "        - do: continue\n"
        ),
        "an eval rule needs 'expr'",
        9,
        "workflow[0].tool.eval[0]",
    ),
    (
        "eval-else-with-siblings",
        doc(
            "workflow:\n  - step: a\n    tool:\n      kind: noop\n      eval:\n"
            "        - else: {do: continue}\n          attempts: 2\n"
        ),
        "an 'else' rule holds only 'else'; move 'attempts' inside it",
        9,
        "workflow[0].tool.eval[0]",
    ),
    (
        "eval-unknown-key",
        doc(
            "workflow:\n  - step: a\n    tool:\n      kind: noop\n      eval:\n"
            "        - expr: x\n          do: retry\n          atempts: 2\n"
        ),
        "unknown field 'atempts'; did you mean 'attempts'?",
        11,
        "workflow[0].tool.eval[0].atempts",
    ),
    (
        "eval-unknown-backoff",
        doc(
            "workflow:\n  - step: a\n    tool:\n      kind: noop\n      eval:\n"
            "        - else: {do: retry, backoff: exponentail}\n"
        ),
        "did you mean 'exponential'?",
        9,
        "workflow[0].tool.eval[0].else.backoff",
    ),
    (
        "eval-jump-without-to",
        doc(
            "workflow:\n  - step: a\n    tool:\n      - get:\n          kind: noop\n"
            "          eval:\n            - expr: x\n              do: jump\n"
        ),
        "'jump' needs 'to'",
        10,
        "workflow[0].tool.get.eval[0]",
    ),
    (
        "eval-jump-unknown-label",
        doc(
            "workflow:\n  - step: a\n    tool:\n      - fetch:\n          kind: noop\n"
            "          eval:\n            - else: {do: jump, to: fech}\n"
        ),
        "jump to unknown task 'fech'; did you mean 'fetch'?",
        10,
        "workflow[0].tool.fetch.eval[0].else.to",
    ),
    # --- loop --------------------------------------------------------------------------------
    (
        "loop-without-in",
        doc("workflow:\n  - step: a\n    loop:\n      iterator: x\n"),
        "loop needs 'in'",
        7,
        "workflow[0].loop",
    ),
    (
        "loop-max-in-flight-zero",
        doc(
            "workflow:\n  - step: a\n    loop:\n      in: [1]\n      spec:\n"
            "        mode: parallel\n        max_in_flight: 0\n"
        ),
        "max_in_flight must be at least 1, got 0",
        10,
        "workflow[0].loop.spec.max_in_flight",
    ),
    (
        "loop-max-in-flight-not-int",
        doc("workflow:\n  - step: a\n    loop: {in: [1], spec: {max_in_flight: many}}\n"),
        "max_in_flight must be a whole number or a template, got 'many'",
        6,
        "workflow[0].loop.spec.max_in_flight",
    ),
    (
        "loop-mode",
        doc("workflow:\n  - step: a\n    loop:\n      in: [1]\n      spec: {mode: paralel}\n"),
        "did you mean 'parallel'?",
        8,
        "workflow[0].loop.spec.mode",
    ),
    # --- templates ---------------------------------------------------------------------------
    (
        "template-syntax-in-arc-guard",
        doc("workflow:\n  - step: a\n    next:\n      - step: a\n        when: '{{ x == }}'\n"),
        "template syntax error on line 1 of the template",
        8,
        "workflow[0].next[0].when",
    ),
    (
        "template-syntax-second-line",
        doc(
            "workflow:\n  - step: a\n    tool:\n      kind: python\n      code: |\n"
            "        x = 1\n        {% if x %}\n"
        ),
        "template syntax error on line 2 of the template",
        8,
        "workflow[0].tool.code",
    ),
    (
        "template-syntax-in-workload",
        doc("workload:\n  greeting: 'hi {{ name '\nworkflow: [{step: a}]\n"),
        "template syntax error",
        5,
        "workload.greeting",
    ),
    # --- workbook ----------------------------------------------------------------------------
    (
        "workbook-unknown-name",
        doc(
            "workbook:\n  - name: peak\n    tool: {kind: noop}\nworkflow:\n  - step: a\n"
            "    tool: {kind: workbook, name: pek}\n"
        ),
        "unknown workbook task 'pek'; did you mean 'peak'?",
        9,
        "workflow[0].tool.name",
    ),
    (
        "workbook-task-unknown-field",
        doc(
            "workbook:\n  - name: peak\n    tool:\n      kind: python\n      code: x\n"
            "      cod: y\nworkflow: [{step: a}]\n"
        ),
        "unknown field 'cod' for tool kind 'python'",
        9,
        "workbook[0].tool.cod",
    ),
    (
        "workbook-entry-missing-tool",
        doc("workbook:\n  - name: peak\nworkflow: [{step: a}]\n"),
        "missing required field 'tool'",
        5,
        "workbook[0].tool",
    ),
]


@pytest.mark.parametrize(
    ("text", "message", "line", "path"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_bad_playbook_is_reported_at_its_place(text, message, line, path):
    playbook, problems = check_playbook(text, file="bad.yaml")
    assert playbook is None
    errors = [p for p in problems if p.severity == "error"]
    matching = [p for p in errors if message in p.message]
    assert matching, f"no error containing {message!r} in {[str(p) for p in errors]}"
    problem = matching[0]
    assert (problem.line, problem.path) == (line, path), str(problem)
    assert problem.file == "bad.yaml"
    assert problem.col is not None


def test_there_are_at_least_thirty_cases():
    assert len(CASES) >= 30
    assert len({case[0] for case in CASES}) == len(CASES)


def test_every_problem_is_reported_not_just_the_first():
    text = doc(
        """
        workflow:
          - step: a
            nxt: b
            loop: {in: [1], spec: {mode: paralel}}
          - step: b
            tool: {kind: noop, timeout: later}
        """
    )
    _, problems = check_playbook(text)
    assert [(p.line, p.path) for p in problems] == [
        (6, "workflow[0].nxt"),
        (7, "workflow[0].loop.spec.mode"),
        (9, "workflow[1].tool.timeout"),
    ]


def test_every_semantic_problem_is_reported():
    text = doc(
        """
        workflow:
          - step: a
            next: [b, c]
          - step: a
        """
    )
    _, problems = check_playbook(text)
    messages = [p.message for p in problems if p.severity == "error"]
    assert messages == [
        "next: unknown step 'b'",
        "next: unknown step 'c'",
        "duplicate step name 'a' (first defined at line 5)",
    ]


def test_load_playbook_raises_with_every_error():
    text = doc("vars: {}\nworkflow:\n  - step: a\n    next: 3\n")
    with pytest.raises(PlaybookError) as caught:
        load_playbook(text, file="p.yaml")
    problems = caught.value.problems
    assert [p.path for p in problems] == ["vars", "workflow[0].next"]
    assert "p.yaml:4:1: root 'vars' is not allowed" in str(caught.value)


def test_problem_str_is_file_line_col_message_path():
    _, problems = check_playbook(doc("workflow:\n  - step: a\n    nxt: b\n"), file="x.yaml")
    assert (
        str(problems[0])
        == "x.yaml:6:5: unknown field 'nxt'; did you mean 'next'? (workflow[0].nxt)"
    )


def test_unknown_key_without_a_close_match_lists_the_allowed_ones():
    _, problems = check_playbook(doc("workflow:\n  - step: a\n    zzz: 1\n"))
    assert problems[0].message == (
        "unknown field 'zzz'; expected one of: step, desc, when, tool, loop, next, spec, set_ctx"
    )


def test_unreachable_step_is_a_warning_not_an_error():
    text = doc("workflow:\n  - step: start\n  - step: orphan\n")
    playbook, problems = check_playbook(text, file="w.yaml")
    assert playbook is not None
    assert problems == [
        Problem(
            "step 'orphan' can never be reached from the entry step 'start'",
            path="workflow[1].step",
            file="w.yaml",
            line=6,
            col=11,
            severity="warning",
        )
    ]
    load_playbook(text)  # warnings do not raise


def test_missing_file_is_a_problem_not_an_exception(tmp_path):
    from pathlib import Path

    missing = Path(tmp_path / "nope.yaml")
    playbook, problems = check_playbook(missing)
    assert playbook is None
    assert [str(p) for p in problems] == [f"{missing}: file not found"]


def test_a_document_that_is_not_a_mapping():
    _, problems = check_playbook("- step: a\n")
    assert problems[0].message == (
        "a playbook is a mapping with apiVersion, kind, metadata and workflow; got a list"
    )
    assert (problems[0].line, problems[0].path) == (1, "")


def test_an_empty_document():
    _, problems = check_playbook("", file="e.yaml")
    assert str(problems[0]).startswith("e.yaml:1:1: nothing to load: the file is empty")
    _, problems = check_playbook("null\n", file="n.yaml")
    assert str(problems[0]).startswith("n.yaml:1:1: a playbook is a mapping")
    assert "got an empty document" in problems[0].message


def _alias_bomb(levels: int) -> str:
    """The billion-laughs playbook: each level lists the previous alias ten times."""
    lines = ["  a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for level in range(1, levels + 1):
        refs = ", ".join([f"*a{level - 1}"] * 10)
        lines.append(f"  a{level}: &a{level} [{refs}]")
    header = "apiVersion: noetl.io/v2\nkind: Playbook\nmetadata: {name: lol}\nworkload:\n"
    return header + "\n".join(lines) + "\nworkflow:\n  - step: start\n"


@pytest.mark.parametrize("levels", [6, 9, 12])
def test_an_alias_bomb_is_refused_where_it_explodes(levels):
    _, problems = check_playbook(_alias_bomb(levels), file="lol.yaml")
    [problem] = problems
    assert "more than 1000000 YAML nodes" in problem.message
    assert "NOETL_YAML_MAX_NODES" in problem.message
    assert (problem.file, problem.line) == ("lol.yaml", 10)  # the level that crosses the limit


def test_aliases_below_the_limit_are_fine():
    playbook = load_playbook(_alias_bomb(4))  # 10^5 leaves
    assert len(playbook.workload["a4"]) == 10


@pytest.mark.parametrize(
    "workload, col",
    [("&w {self: *w}", 11), ("{l: &l [*l, *l]}", 15), ("{a: &a {b: [1, {c: *a}]}}", 15)],
)
def test_a_recursive_alias_is_a_problem_not_a_crash(workload, col):
    text = f"apiVersion: noetl.io/v2\nkind: Playbook\nmetadata: {{name: r}}\nworkload: {workload}\n"
    text += "workflow:\n  - step: start\n"
    _, problems = check_playbook(text, file="r.yaml")
    [problem] = problems
    assert "recursive alias" in problem.message
    assert (problem.file, problem.line, problem.col) == ("r.yaml", 4, col)


KIND = "apiVersion: noetl.io/v2\nkind: Playbook\n"


@pytest.mark.parametrize(
    "path",
    ["../../etc/passwd", "/", "a//b", "a/b/", ".", "a/../b", "a b", "a\u202eb", "x" * 256],
)
def test_a_catalog_path_that_is_no_address_is_refused_where_it_is_written(path):
    # a catalog path is read back in URLs and on the command line: '..' or a trailing '/' made
    # entries no client could address
    source = f"{KIND}metadata: {{name: x, path: {json.dumps(path)}}}\nworkflow:\n  - step: start\n"
    with pytest.raises(PlaybookError) as raised:
        load_playbook(source, file="p.yaml")
    (problem,) = raised.value.problems
    assert (problem.line, problem.path) == (3, "metadata.path")
    assert "a catalog path is names joined by '/'" in problem.message


def test_a_catalog_path_may_be_any_words_joined_by_slashes():
    source = f"{KIND}metadata: {{name: x, path: /team-a/etl_v2/load@1.0+b/\u00e9t\u00e9}}\n"
    assert load_playbook(source + "workflow:\n  - step: start\n").path == (
        "/team-a/etl_v2/load@1.0+b/\u00e9t\u00e9"
    )
