"""How an execution ended (or where it is): what `noetl.run` and the clients answer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from noetl.store.port import ExecutionSummary


@dataclass(frozen=True)
class Outcome:
    """One execution's status and, once it has ended, its result or its error.

    `status` is `running`, `done`, `failed` or `cancelled`; `error` is None unless the
    execution failed or was cancelled (then it holds at least a `message` or `reason`).
    """

    execution_id: str
    status: str
    result: Any = None
    error: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        """True when the execution ended `done`."""
        return self.status == "done"

    @classmethod
    def of(cls, summary: ExecutionSummary | Mapping[str, Any]) -> Outcome:
        """The outcome in an execution summary (the store's, or a server's JSON)."""
        row = summary.to_dict() if isinstance(summary, ExecutionSummary) else summary
        error = row.get("error") if row["status"] not in ("done", "running") else None
        return cls(
            execution_id=str(row["execution_id"]),
            status=str(row["status"]),
            result=row.get("result"),
            error=dict(error) if isinstance(error, Mapping) else None,
        )
