"""What one template render and one playbook document may cost.

The control plane renders guards, `loop.in` and arc args inside its one decision loop, so a
template that loops for minutes or builds a gigabyte string would stall or bloat every
execution. Each top-level render therefore runs on a budget: CPU time (checked as loops turn
and at every operator and call the sandbox sees), loop iterations, and the size of any string
or list an operator, a format width or the rendered text would produce. A YAML document's
size after alias expansion is bounded too (an alias bomb is a few hundred bytes).

The limits are process settings (`noetl.config.Settings`: `configure` applies them, else they
are read from the environment on first use); exceeding one raises `BudgetExceeded`, which the
renderer turns into a `template` error.
"""

from __future__ import annotations

import contextvars
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from noetl.config import Settings

CHECK_EVERY = 256  # loop iterations between two looks at the CPU clock


@dataclass
class Limits:
    """The budgets: `noetl.config.Settings` fields of the same names."""

    template_cpu_seconds: float
    template_iterations: int
    template_max_chars: int
    yaml_max_nodes: int

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        """The limits a process's settings give."""
        return cls(
            settings.template_cpu_seconds,
            settings.template_iterations,
            settings.template_max_chars,
            settings.yaml_max_nodes,
        )


_LIMITS: list[Limits] = []  # set by `configure`, else read from the environment on first use


def configure(settings: Settings) -> None:
    """Use the limits of `settings` in this process (the runtime does, once at start)."""
    _LIMITS[:] = [Limits.of(settings)]


def limits() -> Limits:
    """This process's limits."""
    if not _LIMITS:
        _LIMITS.append(Limits.of(Settings.load()))
    return _LIMITS[0]


class BudgetExceeded(Exception):
    """A render went over one of its limits."""


# eq=False, repr=False: one render's spending, never compared or printed; each method @dataclass
# generates is compiled when `noetl run` starts (benchmarks/README.md).
@dataclass(eq=False, repr=False)
class _Spending:
    deadline: float  # thread CPU time at which the render must stop
    iterations_left: int


_CURRENT: contextvars.ContextVar[_Spending | None] = contextvars.ContextVar(
    "noetl_template_budget", default=None
)


class Budget:
    """`with Budget():` around a top-level render (nested renders share the outer budget)."""

    def __enter__(self) -> None:
        self._token = None
        if _CURRENT.get() is None:
            budget = limits()
            deadline = time.thread_time() + budget.template_cpu_seconds
            self._token = _CURRENT.set(_Spending(deadline, budget.template_iterations))

    def __exit__(self, *_: object) -> None:
        if self._token is not None:
            _CURRENT.reset(self._token)


def check_time() -> None:
    """Raise when the current render has used up its CPU time."""
    spending = _CURRENT.get()
    if spending is not None and time.thread_time() > spending.deadline:
        raise BudgetExceeded(
            f"the template used more than {limits().template_cpu_seconds:g} s of CPU "
            "(NOETL_TEMPLATE_CPU_SECONDS)"
        )


def counted(items: Iterable[Any]) -> Iterator[Any]:
    """`items`, counting each against the render's iterations (what every `for` loops over)."""
    spending = _CURRENT.get()
    if spending is None:
        yield from items
        return
    for n, item in enumerate(items, start=1):
        spending.iterations_left -= 1
        if spending.iterations_left < 0:
            raise BudgetExceeded(
                f"the template's loops ran more than {limits().template_iterations} iterations "
                "(NOETL_TEMPLATE_ITERATIONS)"
            )
        if n % CHECK_EVERY == 0:
            check_time()
        yield item


def check_size(size: int, what: str) -> None:
    """Raise when something a template would build is longer than the limit."""
    most = limits().template_max_chars
    if size > most:
        raise BudgetExceeded(
            f"{what} would be {size} long, more than {most} (NOETL_TEMPLATE_MAX_CHARS)"
        )


def check_power(base: Any, exponent: Any) -> None:
    """Raise when an integer power would have more digits than the size limit allows."""
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and abs(base) > 1:
        check_size(base.bit_length() * exponent // 3, "a number (in digits)")


def check_repeat(left: Any, right: Any) -> None:
    """Raise when `left * right` repeats a sequence beyond the size limit."""
    for sequence, times in ((left, right), (right, left)):
        if isinstance(sequence, (str, bytes, list, tuple)) and isinstance(times, int):
            check_size(len(sequence) * times, "a repeated sequence")


# Widths and precisions in format strings: `{0:>1000}`, `{:.500f}`, `%1000d`, `%.*f`.
_BRACE_SPEC = re.compile(r"\{[^{}]*:([^{}]*)\}")
_PERCENT_SPEC = re.compile(r"%[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_NUMBER = re.compile(r"\d+")


def check_format(text: Any) -> None:
    """Raise when a `str.format` or `%` format string asks for a width beyond the limit (or
    takes its width from an argument, which could be anything)."""
    if not isinstance(text, str):
        return
    for spec in _BRACE_SPEC.findall(text):
        for number in _NUMBER.findall(spec):
            check_size(int(number), "a format width")
    if "{" in "".join(_BRACE_SPEC.findall(text)) or re.search(r"\{[^{}]*:[^{}]*\{", text):
        raise BudgetExceeded("format widths taken from arguments are not allowed in templates")
    for width, precision in _PERCENT_SPEC.findall(text):
        if "*" in (width, precision):
            raise BudgetExceeded("'*' widths are not allowed in templates")
        check_size(max(int(width or 0), int(precision or 0)), "a format width")
