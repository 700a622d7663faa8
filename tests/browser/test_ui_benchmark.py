"""`benchmarks/ui.py --browser` runs in Chromium and prints its browser case (shape only)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "ui.py"


def test_the_ui_benchmark_times_the_pages_in_chromium() -> None:
    command = [sys.executable, str(SCRIPT), "--runs", "2", "--scale", "0.001", "--browser"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    browser = json.loads(done.stdout)["cases"]["browser"]
    assert browser["first_view_s"] > 0
    for name in ("later_views_s", "list_page_s"):
        assert set(browser[name]) == {"median", "min", "max"}
        assert 0 < browser[name]["min"] <= browser[name]["max"]
