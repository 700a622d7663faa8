"""One process at a time per execution of an embedded log.

Two `noetl run --resume ID` on the same SQLite file would both re-issue the execution's
pending commands and run them twice. Each process running an execution holds an exclusive
byte-range lock on `<db>.lock` at an offset derived from the execution id: the kernel drops it
when the process dies (crash-safe), and a second process is refused at once.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from noetl.errors import ConflictError

_OFFSETS = 2**62  # lock offsets: collisions between two ids are negligible


@contextmanager
def execution_lease(db_path: Path, execution_id: str) -> Iterator[None]:
    """Hold the execution for this process while the block runs (ConflictError when another
    process holds it)."""
    path = db_path.with_name(db_path.name + ".lock")
    offset = int.from_bytes(hashlib.sha256(execution_id.encode()).digest()[:8]) % _OFFSETS
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.lockf(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, offset)
        except OSError:
            raise ConflictError(
                f"execution {execution_id} is being run by another process on {db_path}; "
                "wait for it to end, or stop it, then resume"
            ) from None
        yield
    finally:
        os.close(descriptor)  # releases the lock
