"""The JSON form of the values SQL drivers return, one rule for the `postgres` and `duckdb` tools.

A row reaches events, templates and the result store, so every value becomes plain JSON:

- exact numerics (`numeric`, `DECIMAL`) follow their scale, so a column keeps one type on every
  row: no fractional digits (`numeric(10,0)`, `sum(int)` on PostgreSQL) -> int (exact at any
  size); fractional digits (`numeric(10,2)`) -> float. A float holds about 15 significant
  digits: cast to text in SQL (`amount::text`) when every digit counts.
- NaN and infinities (numeric or float) -> the strings "NaN", "Infinity", "-Infinity", as
  PostgreSQL spells them (JSON has no such numbers).
- date, timestamp, time -> ISO 8601 text (with the offset when the value has one);
  interval -> seconds (float); UUID -> text; bytes -> base64 text.
- arrays, lists, structs, maps and JSON documents -> lists and objects, converted throughout.
- anything else (inet, ranges, enums of unregistered types) -> its text.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID


def json_value(value: Any) -> Any:
    """`value` (as a database driver returned it) in its JSON form; see the module's rules."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else _non_finite(value)
    if isinstance(value, Decimal):
        return _exact_number(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, Mapping):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    return str(value)


def _exact_number(value: Decimal) -> int | float | str:
    if not value.is_finite():
        return _non_finite(value)
    exponent = value.as_tuple().exponent
    return int(value) if isinstance(exponent, int) and exponent >= 0 else float(value)


def _non_finite(value: float | Decimal) -> str:
    if value.is_nan() if isinstance(value, Decimal) else math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"
