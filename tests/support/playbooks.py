"""Playbook bodies that more than one suite runs, without their `apiVersion`/`kind`/`metadata`
head (each suite adds its own), with the checks that go with them."""

from __future__ import annotations

from datetime import datetime
from itertools import pairwise
from typing import Any

# One task that writes the file `workload.flag` (so a test knows it runs), then sleeps
# `workload.seconds`: long enough to look at, interrupt or kill the run meanwhile.
SLOW = """
workload: {flag: "", seconds: 30}
workflow:
  - step: start
    tool:
      kind: python
      args: {flag: "{{ workload.flag }}", seconds: "{{ workload.seconds }}"}
      code: |
        import pathlib, time
        pathlib.Path(flag).write_text("running")
        time.sleep(float(seconds))
        result = "finished"
"""

# A task that fails three times and is retried with exponential backoff (0.3, 0.6, 1.2 s):
# done at attempt 4 with result 4. `assert_backoff_gaps` checks its event times.
BACKOFF = """
workflow:
  - step: start
    tool:
      - flaky:
          kind: python
          args: {attempt: "{{ _attempt }}"}
          code: |
            if attempt <= 3:
                raise ConnectionError("attempt " + str(attempt) + " failed")
            result = attempt
          eval:
            - expr: "{{ outcome.status == 'error' }}"
              do: retry
              attempts: 5
              backoff: exponential
              delay: 300ms
"""


TIMER_SLACK = 0.005  # seconds: a libuv timer's millisecond clock, and one loop turn


def assert_backoff_gaps(log: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The four attempts of BACKOFF's task in `log` (events as JSON), ended 0.3, 0.6 and 1.2 s
    apart (plus each attempt's own run time): the backoff is visible in the event times."""
    attempts = [e for e in log if e["type"] in ("task.failed", "task.done")]
    assert [e["payload"]["attempt"] for e in attempts] == [1, 2, 3, 4]
    times = [datetime.fromisoformat(e["created_at"]) for e in attempts]
    gaps = [(later - earlier).total_seconds() for earlier, later in pairwise(times)]
    for gap, wait in zip(gaps, (0.3, 0.6, 1.2), strict=True):
        # uvloop (libuv) times a sleep from the loop's cached millisecond clock, read when the
        # loop turn began: the wall clock can see a wait end up to that turn's age early.
        assert wait - TIMER_SLACK <= gap < wait + 0.5, gaps
    return attempts
