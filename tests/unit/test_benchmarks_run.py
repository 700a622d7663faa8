"""Smoke test of the benchmark scripts: they run at a tiny size and print the promised JSON.

Only the shape is checked (cases, statistics, machine, targets) - never a timing.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def run_script(name: str, *args: str) -> dict[str, Any]:
    command = [sys.executable, str(BENCHMARKS / name), "--runs", "1", *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)  # fails on anything but one JSON object
    return result


def assert_spread(value: dict[str, float]) -> None:
    assert set(value) == {"median", "min", "max"}
    assert 0 <= value["min"] <= value["median"] <= value["max"]


def assert_common(result: dict[str, Any], benchmark: str) -> None:
    assert result["benchmark"] == benchmark
    assert result["runs"] == 1
    assert result["machine"]["cpu_count"] >= 1
    assert result["machine"]["python"] == ".".join(map(str, sys.version_info[:3]))
    for entry in result["cases"].values():
        assert entry["peak_rss_mb"] > 0


def test_engine_benchmark_prints_every_case_with_rates():
    result = run_script("engine.py", "--scale", "0.01")
    assert_common(result, "engine")
    cases = result["cases"]
    assert list(cases) == ["chain_1k", "loop_1k", "loop_10k", "loop_50k", "replay_loop_10k"]
    assert cases["chain_1k"]["steps"] == 10
    assert [cases[n]["items"] for n in ("loop_1k", "loop_10k", "loop_50k")] == [10, 100, 500]
    for name in ("chain_1k", "loop_1k", "loop_10k", "loop_50k"):
        entry = cases[name]
        assert_spread(entry["seconds"])
        # one decision to start plus one per worker event: the driver ran to the end
        work = entry.get("steps", entry.get("items"))
        assert entry["decisions"] == work + 1
        assert entry["decisions_per_s"] > 0 and entry["us_per_decision"] > 0
    assert_spread(cases["replay_loop_10k"]["seconds"])
    assert cases["replay_loop_10k"]["events"] == cases["loop_10k"]["events"]
    assert set(result["linearity"]["us_per_item"]) == {"loop_1k", "loop_10k", "loop_50k"}
    assert result["linearity"]["ratio"] > 0
    assert isinstance(result["targets"]["met"], bool)


def test_engine_benchmark_runs_one_case_alone():
    entry = run_script("engine.py", "--scale", "0.01", "--case", "loop_1k")
    assert entry["items"] == 10 and entry["events"] > 10
    assert_spread(entry["seconds"])


def test_engine_benchmark_rejects_unknown_case():
    command = [sys.executable, str(BENCHMARKS / "engine.py"), "--case", "nope"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2 and "invalid choice" in done.stderr


def test_embedded_benchmark_prints_every_case_and_target():
    result = run_script("embedded.py", "--scale", "0.01")
    assert_common(result, "embedded")
    cases = result["cases"]
    assert list(cases) == [
        "chain_noop_1k",
        "chain_python_1k",
        "loop_1k",
        "loop_10k",
        "concurrent_100x3",
        "cli_hello",
    ]
    assert cases["chain_noop_1k"]["steps"] == cases["chain_python_1k"]["steps"] == 10
    assert cases["loop_1k"]["iterations"] == 10 and cases["loop_10k"]["iterations"] == 100
    assert cases["concurrent_100x3"]["steps"] == 2 * 3  # 100 executions scaled to 2
    for name in ("chain_noop_1k", "chain_python_1k", "concurrent_100x3"):
        assert cases[name]["steps_per_s"] > 0 and cases[name]["ms_per_step"] > 0
        assert cases[name]["cpu_ms_per_step"] > 0
        assert_spread(cases[name]["wall_seconds"])
        assert_spread(cases[name]["open_seconds"])
    assert cases["loop_1k"]["iterations_per_s"] > 0 and cases["loop_10k"]["iterations_per_s"] > 0
    assert_spread(cases["cli_hello"]["wall_seconds"])
    assert set(result["targets"]) == {
        "ms_per_step_chain",
        "loop_1k_seconds",
        "loop_10k_seconds",
        "peak_rss_mb",
        "cli_hello_seconds",
    }
    for target in result["targets"].values():
        assert isinstance(target["met"], bool) and target["measured"] > 0


def test_long_executions_benchmark_prints_windows_items_and_the_resume():
    result = run_script("long_executions.py", "--scale", "0.001")
    assert_common(result, "long_executions")
    chain, loop, resume = (result["cases"][n] for n in ("chain_10k", "loop_100k", "resume_1m"))
    assert chain["steps"] == 300 and chain["ms_per_step"] > 0
    assert len(chain["windows"]) == 3
    for window in chain["windows"].values():
        assert window["ms_per_step"] > 0 and window["cpu_ms_per_step"] >= 0
        assert window["command_scope_bytes"] > 0
    assert loop["iterations"] == 100 and loop["last_over_first"] > 0
    assert resume["events"] >= 1000 and resume["resume_peak_rss_mb"] > 0
    assert_spread(resume["resume_seconds"])
    assert set(resume["page_ms"]) == {"start", "middle", "end"}
    assert set(resume["step_result_ms"]) == {"first_loop", "no_result"}


def test_peers_benchmark_runs_the_noetl_side_of_every_shape():
    """The peers themselves need Dagster and Prefect (a throwaway venv); NoETL's side runs here."""
    result = run_script("peers.py", "--only", "noetl", "--chain", "5")
    cases = result["results"]["noetl"]
    assert set(cases) == {"chain", "fanout", "flows", "cold"}
    for name, entry in cases.items():
        assert "error" not in entry, (name, entry)
        assert entry["median_s"] > 0
    assert result["chain_steps"] == 5
    assert result["ratios"] == {}


@pytest.mark.integration
def test_prune_benchmark_prints_append_latencies_alone_and_during(pg_dsn):
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    dsn = make_conninfo(pg_dsn, options=f"-c search_path={schema}")
    command = [sys.executable, str(BENCHMARKS / "prune.py"), "--dsn", dsn]
    command += ["--executions", "5", "--events", "20", "--baseline", "0.2"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["benchmark"] == "prune_during_appends"
    assert (result["events_removed"], result["executions_removed"]) == (100, 5)
    for key in ("appends_alone", "appends_during_prune"):
        assert result[key]["p50_ms"] <= result[key]["max_ms"]
    assert result["appends_alone"]["appends"] >= 1


def test_observe_benchmark_prints_both_variants_and_the_overhead():
    result = run_script("observe.py", "--scale", "0.01")
    assert result["benchmark"] == "observe"
    assert set(result["cases"]) == {"off", "metrics", "tracing"}
    for entry in result["cases"].values():
        assert_spread(entry["seconds"])
        assert entry["steps"] == 10 and entry["ms_per_step"] > 0
    for name in ("metrics_overhead_percent", "tracing_overhead_percent"):
        target = result["targets"][name]
        assert target["measured"] == result[name]
        assert isinstance(target["met"], bool)
        assert isinstance(result[f"{name}_of_fastest"], float)


def test_ui_benchmark_prints_the_list_and_execution_page_cases_and_targets():
    result = run_script("ui.py", "--scale", "0.001")
    assert result["benchmark"] == "ui" and result["runs"] == 1
    listing, page = result["cases"]["list"], result["cases"]["execution_page"]
    assert listing["executions"] == 100
    for name in ("first_page", "deep_page_by_key", "failed_first_page", "playbook_first_page"):
        assert_spread(listing[f"{name}_ms"])
    assert page["iterations"] == 10 and page["events"] > 30
    assert_spread(page["execution_page_s"])
    assert_spread(page["steps_cached_ms"])
    assert_spread(page["steps_first_ms"])
    assert set(result["targets"]) == {"list_first_page_ms", "execution_page_s"}
    for target in result["targets"].values():
        assert isinstance(target["met"], bool) and target["measured"] > 0
