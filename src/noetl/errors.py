"""The one exception tree of NoETL.

Every error names what was wrong and where. Driver errors (sqlite3, psycopg, nats, httpx...) are
translated into these at the edge of the adapter that raised them.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class NoetlError(Exception):
    """Root of every error NoETL raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One finding about a playbook: where it is and what is wrong."""

    message: str
    path: str = ""  # location in the document, e.g. workflow[3].tool.get.eval[0].do
    file: str | None = None
    line: int | None = None  # 1-based
    col: int | None = None  # 1-based
    severity: str = "error"  # error | warning | notice (e.g. "imported from the NoETL form")

    def location(self) -> str:
        """`file:line:col` (the parts that are known)."""
        parts = [self.file or "<playbook>"]
        if self.line is not None:
            parts.append(str(self.line))
            if self.col is not None:
                parts.append(str(self.col))
        return ":".join(parts)

    def __str__(self) -> str:
        where = f" ({self.path})" if self.path else ""
        tag = f"{self.severity}: " if self.severity in ("warning", "notice") else ""
        return f"{self.location()}: {tag}{self.message}{where}"

    def to_dict(self) -> dict[str, object]:
        """JSON-friendly form used by `noetl validate --json`."""
        return {
            "file": self.file,
            "line": self.line,
            "col": self.col,
            "path": self.path,
            "message": self.message,
            "severity": self.severity,
        }


@dataclass
class PlaybookError(NoetlError):
    """A playbook could not be loaded: invalid YAML, invalid DSL or failed semantic checks."""

    problems: list[Problem] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            "\n".join(str(p) for p in self.problems if p.severity == "error") or "invalid playbook"
        )


class TemplateError(NoetlError):
    """A template failed to compile or render (syntax error, undefined name, sandbox refusal)."""

    def __init__(self, message: str, *, template: str = "", where: str = "") -> None:
        self.template = template
        self.where = where
        prefix = f"{where}: " if where else ""
        super().__init__(f"{prefix}{message} in template {template!r}")


class ReplayDivergence(NoetlError):
    """Replaying a recorded history produced different decisions than the ones recorded."""


class EngineError(NoetlError):
    """The engine was given an event it cannot apply (unknown type, wrong execution...)."""


class EventCodecError(NoetlError):
    """An event or command could not be decoded (unknown type, bad schema version, bad JSON)."""


class StoreError(NoetlError):
    """The event/result store failed."""


class StoreUnavailableError(StoreError):
    """The store could not be reached or lost its connection: nothing was written, try again
    (the server answers 503, which workers retry)."""


class StoreInputError(StoreError):
    """The store refused a value it was given (a NUL byte in text, a number out of range): the
    input is wrong, not the store (the server answers 422)."""


class ConflictError(StoreError):
    """An optimistic append lost the race: the expected sequence number was taken."""


class NotHeldError(ConflictError):
    """A worker reported on a command it does not hold (no claim, another worker's claim, or a
    command that is not pending): refused, never written."""


class NotFoundError(NoetlError):
    """A named thing (execution, playbook, credential, result...) does not exist."""


class RemoteError(NoetlError):
    """A NoETL server could not be reached, or answered with an error; `status` is its HTTP status
    (None when it could not be reached). `sent` is False when no connection was made, so the
    request cannot have done anything."""

    def __init__(self, message: str, *, status: int | None = None, sent: bool = True) -> None:
        super().__init__(message)
        self.status = status
        self.sent = sent


class BusError(NoetlError):
    """The command bus failed."""


class ToolError(NoetlError):
    """A tool task failed. Carries what the outcome envelope needs."""

    def __init__(
        self,
        message: str,
        *,
        kind: str = "tool",
        retryable: bool = False,
        code: str | None = None,
        status_code: int | None = None,
        retry_after: float | None = None,
        traceback: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        # The user's frames only (a python task's code), shown where the step failed.
        self.traceback = traceback
        self.kind = kind
        self.retryable = retryable
        self.code = code
        self.status_code = status_code
        # Seconds the failing service asked us to wait (HTTP Retry-After); `retry` honours it.
        self.retry_after = retry_after


class ConfigError(NoetlError):
    """Configuration (environment, flags, tool config) is missing or invalid."""


class CredentialError(NoetlError):
    """A credential or secret is missing, undecryptable or malformed."""


class UnknownCredentialError(CredentialError):
    """No credential is stored under the name asked for."""


class LocalServiceError(NoetlError):
    """A local PostgreSQL or NATS server (tests, `noetl dev up`) could not be started or stopped."""
