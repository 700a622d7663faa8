"""Identifiers: time-sortable 64-bit ids, handed to clients as decimal strings.

Layout (Snowflake-like): 41 bits of milliseconds since 2024-01-01, 10 bits of process entropy,
12 bits of per-millisecond sequence. Ordering by id is ordering by creation time.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import threading
import time

_EPOCH_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z
_NODE = secrets.randbits(10) ^ (os.getpid() & 0x3FF)
_lock = threading.Lock()
_last_ms = 0
_seq = 0


def new_id() -> str:
    """Return a new unique, time-sortable id as a string."""
    return new_ids(1)[0]


def new_ids(count: int) -> list[str]:
    """Return `count` new ids, in order, from one reading of the clock (the store stamps each
    event of a batch with an id: one lock and one clock call for all of them)."""
    global _last_ms, _seq
    made = []
    with _lock:
        now = int(time.time() * 1000) - _EPOCH_MS
        for _ in range(count):
            if now <= _last_ms:
                _seq = (_seq + 1) & 0xFFF
                if _seq == 0:
                    _last_ms += 1  # borrow the next millisecond rather than repeat an id
                now = _last_ms
            else:
                _seq = 0
                _last_ms = now
            made.append(str((now << 22) | (_NODE << 12) | _seq))
    return made


def keyed_id(key: str) -> str:
    """The execution id a client's idempotency key stands for: the same key always gives the
    same id, so a repeated start finds the first one. Its top bit is set, which no `new_id`
    has (until 2093), so keyed and new ids never meet."""
    digest = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")
    return str((1 << 63) | (digest >> 1))
