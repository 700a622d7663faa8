"""Every example in examples/ through `noetl run FILE --json`, with its result computed here.

Each expectation reads the example's own `workload` and computes the answer independently, so an
example whose code and comment header drift apart fails. An example added without an
expectation fails `test_every_example_has_an_expectation`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
Workload = dict[str, Any]


def hello(w: Workload) -> Any:
    return f"Hello, {w['name']}!"


def city_report(w: Workload) -> Any:
    hot = [c["name"] for c in w["cities"] if max(c["temps"]) > w["threshold"]]
    return "hot: " + ", ".join(hot) if hot else "no city above the threshold"


def fanout_join(w: Workload) -> Any:
    numbers = w["numbers"]
    return {"sum": sum(numbers), "max": max(numbers), "min": min(numbers), "label": "stats"}


def pagination(w: Workload) -> Any:
    total = w["total_items"]
    return {
        "pages": math.ceil(total / w["page_size"]),
        "count": total,
        "sum": total * (total + 1) // 2,
    }


def parallel_loop(w: Workload) -> Any:
    return sum(2 * i for i in range(1, w["n"] + 1))


def parent_loop(w: Workload) -> Any:
    return {"greetings": [f"hello {name}" for name in w["names"]]}


def retry_backoff(w: Workload) -> Any:
    return {"attempts": w["fail_times"] + 1, "confirmed": True}


def failure_routing(w: Workload) -> Any:
    # The python tool reports the exception type, its message and the line that raised it.
    over = f"amount {w['amount']} is over the limit of {w['limit']}"
    return f"declined: ValueError: {over} (line 2)"


TOKEN = "token-only-the-test-knows"
ENV = {"secret_env.yaml": {"DEMO_API_TOKEN": TOKEN}}  # what an example needs from the environment


def secret_env(w: Workload) -> Any:
    signature = hmac.new(TOKEN.encode(), w["message"].encode(), hashlib.sha256).hexdigest()
    return {"message": w["message"], "signature": signature, "token": "***"}


EXPECTED: dict[str, Callable[[Workload], Any]] = {
    "hello.yaml": hello,
    "city_report.yaml": city_report,
    "fanout_join.yaml": fanout_join,
    "pagination.yaml": pagination,
    "parallel_loop.yaml": parallel_loop,
    "parent_loop.yaml": parent_loop,
    "retry_backoff.yaml": retry_backoff,
    "failure_routing.yaml": failure_routing,
    "secret_env.yaml": secret_env,
}
# Examples that need an external service, and the test that runs them against local servers.
NEEDS_SERVICES = {
    "http_to_postgres.yaml": "tests/integration/test_example_http_to_postgres.py",
    "stored_credential.yaml": "tests/acceptance/test_credentials_cli.py",  # needs a stored key
}


# parallel_loop's list of 1..n past the inline limit is stored by reference (D8). With the
# default limit that takes n > 12,800 (tests/integration/test_distributed_results.py runs 15,000);
# here a lower limit keeps the run short and takes the same path.
LARGE = 2_000
INLINE_LIMIT = "8192"

PAYLOADS: dict[str, dict[str, Any]] = {
    "hello.yaml": {"name": "Ada"},
    "city_report.yaml": {"threshold": 40},
    "fanout_join.yaml": {"numbers": [7, -3, 11]},
    "pagination.yaml": {"total_items": 7, "page_size": 3},
    "parallel_loop.yaml": {"n": 17},
    "parent_loop.yaml": {"names": ["edsger"]},
    "retry_backoff.yaml": {"fail_times": 0},
    "failure_routing.yaml": {"amount": 101, "limit": 100},
    "secret_env.yaml": {"message": "POST /v1/refunds"},
}


# The examples present in the tree (an expectation for one that is gone is simply unused).
RUNNABLE = sorted(p.name for p in EXAMPLES.glob("*.yaml") if p.name not in NEEDS_SERVICES)


def workload_of(name: str) -> Workload:
    document = yaml.safe_load((EXAMPLES / name).read_text())
    return dict(document.get("workload") or {})


@pytest.fixture(scope="module")
def runs(module_cli):
    """Every example run once with its defaults and once with a payload, all at once."""
    jobs: dict[str, tuple[Path | str, list[str]]] = {}
    for name in RUNNABLE:
        if name not in EXPECTED:
            continue  # test_every_example_has_an_expectation says so
        jobs[name] = (EXAMPLES / name, [])
        jobs[f"{name}+payload"] = (EXAMPLES / name, ["--payload", json.dumps(PAYLOADS[name])])
    jobs["failure_routing.yaml+ok"] = (EXAMPLES / "failure_routing.yaml", ["--set", "amount=40"])
    # Past the 64 KiB inline limit the list `loop.in` reads is stored by reference (D8).
    jobs["parallel_loop.yaml+large"] = (EXAMPLES / "parallel_loop.yaml", ["--set", f"n={LARGE}"])
    jobs["parallel_loop.yaml+limited"] = (EXAMPLES / "parallel_loop.yaml", ["--set", f"n={LARGE}"])
    env = {job: ENV[job.partition("+")[0]] for job in jobs if job.partition("+")[0] in ENV}
    env["parallel_loop.yaml+large"] = {"NOETL_INLINE_LIMIT": INLINE_LIMIT}
    limits = {"NOETL_INLINE_LIMIT": INLINE_LIMIT, "NOETL_CONTROL_READ_LIMIT": INLINE_LIMIT}
    env["parallel_loop.yaml+limited"] = limits
    logs = {
        "retry_backoff.yaml",
        "pagination.yaml",
        "parallel_loop.yaml",
        "parallel_loop.yaml+large",
        "fanout_join.yaml",
        "failure_routing.yaml",
    }
    return module_cli.run_many(jobs, env=env, logs=logs)


def test_every_example_has_an_expectation():
    missing = set(RUNNABLE) - set(EXPECTED)
    assert not missing, f"examples without an expected result: {sorted(missing)}"
    assert set(PAYLOADS) == set(EXPECTED)
    root = EXAMPLES.parent
    for name, test in NEEDS_SERVICES.items():
        assert name in (root / test).read_text(), f"{test} does not run {name}"


@pytest.mark.parametrize("name", RUNNABLE)
def test_example_runs_to_its_expected_result(runs, name):
    assert runs[name].result == EXPECTED[name](workload_of(name))


@pytest.mark.parametrize("name", RUNNABLE)
def test_example_with_a_payload(runs, name):
    workload = {**workload_of(name), **PAYLOADS[name]}
    assert runs[f"{name}+payload"].result == EXPECTED[name](workload)


def test_failure_routing_example_takes_the_success_arc_under_the_limit(runs):
    assert runs["failure_routing.yaml+ok"].result == 40


def test_retry_example_succeeds_on_the_third_attempt(runs, module_cli):
    attempts = [
        (e["type"], e["payload"]["attempt"])
        for e in module_cli.events(runs["retry_backoff.yaml"])
        if e["type"].startswith("task.") and e["payload"]["task"] == "flaky"
    ]
    assert attempts == [("task.failed", 1), ("task.failed", 2), ("task.done", 3)]


def test_pagination_example_jumps_once_per_extra_page_then_breaks(runs, module_cli):
    fetches = [
        e
        for e in module_cli.events(runs["pagination.yaml"])
        if e["type"] == "task.done" and e["payload"]["task"] == "fetch"
    ]
    pages = [e["payload"]["result"]["rows"] for e in fetches]
    assert pages == [list(range(i, min(i + 5, 24))) for i in range(1, 24, 5)]
    assert [e["payload"]["result"]["more"] for e in fetches] == [True] * 4 + [False]


def test_parallel_loop_example_runs_1000_iterations(runs, module_cli):
    log = module_cli.events(runs["parallel_loop.yaml"])
    started = [e for e in log if e["type"] == "loop.started"]
    assert [e["payload"]["count"] for e in started] == [1000]
    done = {e["iteration"] for e in log if e["type"] == "step.done" and e["step"] == "double"}
    assert done == set(range(1000))


def test_parallel_loop_example_loops_over_a_list_stored_by_reference(runs, module_cli):
    assert runs["parallel_loop.yaml+large"].result == parallel_loop({"n": LARGE})
    log = module_cli.events(runs["parallel_loop.yaml+large"])
    (made,) = [e for e in log if e["type"] == "step.done" and e["step"] == "start"]
    assert made["payload"]["result"]["result_ref"]["size"] > int(INLINE_LIMIT)  # a reference
    started = [e["payload"]["count"] for e in log if e["type"] == "loop.started"]
    assert started == [LARGE]


def test_a_stored_result_past_the_control_read_limit_fails_naming_step_and_field(runs):
    limited = runs["parallel_loop.yaml+limited"]
    assert limited.code != 0
    message = limited.error["message"]
    assert "step 'double' loop.in" in message
    assert "the result of step 'start' is stored by reference" in message
    assert "NOETL_CONTROL_READ_LIMIT" in message


def test_fanout_example_reduces_once_after_all_branches(runs, module_cli):
    log = module_cli.events(runs["fanout_join.yaml"])
    ran = [e["step"] for e in log if e["type"] == "step.done"]
    assert ran.count("reduce") == 1
    assert ran[-1] == "reduce"
    assert {"total", "largest", "smallest"} <= set(ran[:-1])


def test_failure_routing_example_routes_the_failed_step(runs, module_cli):
    log = module_cli.events(runs["failure_routing.yaml"])
    assert [e["step"] for e in log if e["type"] == "step.failed"] == ["charge"]
    ran = [e["step"] for e in log if e["type"] == "step.done"]
    assert ran == ["start", "declined"]
    assert log[-1]["type"] == "playbook.done"
