"""Request and response bodies of the REST API (they are also what /docs shows)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from noetl.dsl.model import catalog_path

_STRICT = ConfigDict(extra="forbid")


class RegisterPlaybook(BaseModel):
    """POST /catalog: a playbook's YAML."""

    model_config = _STRICT
    content: str = Field(min_length=1, description="The playbook YAML.")
    path: str | None = Field(
        None, min_length=1, description="Catalog path (default: metadata.path, else the name)."
    )

    @field_validator("path")
    @classmethod
    def _addressable(cls, path: str | None) -> str | None:
        return None if path is None else catalog_path(path)


class CatalogEntryOut(BaseModel):
    """One registered playbook version (`content` only when one version is asked for)."""

    path: str
    version: int
    name: str
    sha256: str
    created_at: str
    created: bool | None = None
    content: str | None = None


class StartExecution(BaseModel):
    """POST /executions: a catalog path (+ version) or an inline playbook, and a payload."""

    model_config = _STRICT
    path: str | None = Field(None, min_length=1, description="Catalog path of the playbook.")
    version: int | None = Field(
        None, ge=1, le=2**31 - 1, description="Catalog version (default: latest)."
    )
    playbook: str | None = Field(None, min_length=1, description="Inline playbook YAML.")
    payload: dict[str, Any] = Field(default_factory=dict)
    parent_execution_id: str | None = None
    trace: str | None = Field(
        None,
        pattern=r"^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$",
        description="W3C traceparent the execution's trace joins (a child playbook's parent).",
    )

    @model_validator(mode="after")
    def _one_source(self) -> StartExecution:
        if (self.path is None) == (self.playbook is None):
            raise ValueError("give exactly one of 'path' (catalog) or 'playbook' (inline YAML)")
        if self.version is not None and self.path is None:
            raise ValueError("'version' needs 'path'")
        return self


class RetryExecution(BaseModel):
    """POST /executions/{id}/retry: where to start again, which version, payload changes."""

    model_config = _STRICT
    from_step: str | None = Field(
        None, min_length=1, description="Run again from this step (default: where it failed)."
    )
    version: int | None = Field(
        None, ge=1, description="Catalog version of the execution's playbook path to run."
    )
    playbook: str | None = Field(None, min_length=1, description="Inline YAML of a newer version.")
    payload: dict[str, Any] = Field(
        default_factory=dict, description="Deep-merged over the failed execution's payload."
    )

    @model_validator(mode="after")
    def _one_version(self) -> RetryExecution:
        if self.version is not None and self.playbook is not None:
            raise ValueError("give 'version' or 'playbook', not both")
        return self


class ScheduleIn(BaseModel):
    """POST /schedules: run catalog playbook `path` on a cron expression or an interval."""

    model_config = _STRICT
    name: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.\-]+$")
    path: str = Field(min_length=1, description="Catalog path of the playbook.")
    version: int | None = Field(None, ge=1, description="Catalog version (default: the latest).")
    cron: str | None = Field(None, description="5 fields, or 6 with seconds first.")
    every: float | None = Field(None, ge=1, description="Interval in seconds (instead of cron).")
    timezone: str = Field("UTC", description="IANA time zone the cron expression is read in.")
    payload: dict[str, Any] = Field(default_factory=dict)
    misfire: Literal["skip", "run_once", "catch_up"] = "skip"
    catch_up_limit: int = Field(10, ge=1, le=1000)
    overlap: Literal["allow", "skip", "cancel"] = "allow"
    paused: bool = False


class HookIn(BaseModel):
    """POST /hooks: a webhook starting catalog playbook `path` (the secret is made for it)."""

    model_config = _STRICT
    name: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.\-]+$")
    path: str = Field(min_length=1, description="Catalog path of the playbook.")
    version: int | None = Field(None, ge=1, description="Catalog version (default: the latest).")


class PruneIn(BaseModel):
    """POST /prune: which finished executions to remove."""

    model_config = _STRICT
    older_than: str = Field(min_length=1, description="Ended longer ago than this: 30d, 12h...")
    status: Literal["done", "failed", "cancelled", "all"] = "all"
    dry_run: bool = False


class ExecutionStarted(BaseModel):
    """The id of a new execution."""

    execution_id: str


class ExecutionOut(BaseModel):
    """An execution's summary: the same fields as `noetl executions show`."""

    execution_id: str
    playbook_name: str
    playbook_path: str
    status: str
    started_at: str
    finished_at: str | None
    steps_done: int
    steps_failed: int
    steps_skipped: int
    result: Any
    error: Any
    parent_execution_id: str | None
    last_seq: int
    playbook_version: int | None = Field(
        None, description="The catalog version it ran (null: not started from the catalog)."
    )


class ExecutionList(BaseModel):
    """A page of executions, newest first."""

    executions: list[ExecutionOut]
    next: str | None = Field(None, description="`before` for the next page (none: last page).")


class EventPage(BaseModel):
    """Events of one execution with seq > after_seq, in order."""

    execution_id: str
    events: list[dict[str, Any]]


class PlaybookSource(BaseModel):
    """The playbook an execution runs, as it was started (workers load it)."""

    execution_id: str
    source: str


class EventBatch(BaseModel):
    """POST /events: what a worker observed while running commands it holds
    (Event.to_dict() each, plus the `claim_token` of its command)."""

    model_config = _STRICT
    events: list[dict[str, Any]] = Field(min_length=1, max_length=10_000)
    pool: str | None = Field(None, min_length=1, description="The reporting worker's pool.")
    worker_id: str = Field(
        "", max_length=256, description="Who reports (named in claims of handed commands)."
    )
    take: int = Field(
        0,
        ge=0,
        le=1000,
        description="How many next commands (of `pool`, of these executions) the worker will "
        "run now: they come back in `handed`, claimed for it, instead of through NATS.",
    )

    @model_validator(mode="after")
    def _pool_with_take(self) -> EventBatch:
        if self.take and self.pool is None:
            raise ValueError("take needs the worker's pool")
        return self


class Claimed(BaseModel):
    """The command to run and the template scope its tasks see."""

    command: dict[str, Any]
    scope: dict[str, Any]
    playbook: str = Field("", description="sha256 of the playbook source (workers cache by it).")
    lease: float | None = Field(
        None, description="Handed off: renew (POST /commands/renew) within this many seconds."
    )
    claim_token: str = Field(
        "", description="Echo it in every event reported on this command (`claim_token`)."
    )


class Accepted(BaseModel):
    """How many events were handed to the engine, and the commands handed to the reporter."""

    accepted: int
    handed: list[Claimed] = Field(default_factory=list)


_NO_NUL = r"^[^\x00]+$"  # ids and tokens never hold a NUL byte (PostgreSQL text cannot)


class HeldCommand(BaseModel):
    """A command a worker holds and is still running, with the token of its claim."""

    model_config = _STRICT
    execution_id: str = Field(min_length=1, max_length=1024, pattern=_NO_NUL)
    command_id: str = Field(min_length=1, max_length=1024, pattern=_NO_NUL)
    claim_token: str = Field(min_length=1, max_length=1024, pattern=_NO_NUL)


class RenewRequest(BaseModel):
    """POST /commands/renew: keep the leases of held commands (409 naming `held[i]` when its
    token does not hold it; then nothing is extended)."""

    model_config = _STRICT
    held: list[HeldCommand] = Field(min_length=1, max_length=10_000)


class ClaimRequest(BaseModel):
    """POST /commands/{command_id}/claim: which delivery of which pointer is asking."""

    model_config = _STRICT
    execution_id: str = Field(min_length=1)
    step: str = Field(min_length=1)
    attempt: int = Field(
        1, ge=1, le=2**31 - 1, description="Delivery attempt of the pointer (1 = first)."
    )
    worker: str = Field("", description="Who claims (for logs).")


class BatchClaim(ClaimRequest):
    """One claim of POST /commands/claim."""

    command_id: str = Field(min_length=1)


class BatchClaimRequest(BaseModel):
    """POST /commands/claim: several claims in one request (a busy worker's)."""

    model_config = _STRICT
    claims: list[BatchClaim] = Field(min_length=1, max_length=1000)


class Health(BaseModel):
    """Liveness of the server."""

    status: str
    version: str


class DependencyBody(BaseModel):
    """One dependency of the server as the readiness check found it."""

    status: str = Field(description="`up`, or `down` when it did not answer in time.")
    reason: str | None = Field(
        default=None, description="Why it is down, in words (no DSN, no password)."
    )


class Readiness(BaseModel):
    """Whether the server's event store and bus answer now."""

    status: str = Field(description="`ready` (200) or `unready` (503).")
    version: str
    checks: dict[str, DependencyBody] = Field(
        description="Per dependency (`event_store`, `bus`): up or down, and why."
    )
    detail: str | None = Field(
        default=None, description="On 503: which dependency is down and why, in one line."
    )


class ResultRefBody(BaseModel):
    """Where a stored result is and how to check it."""

    store: str = Field(description="The store that holds it (`db`: the server's database).")
    key: str = Field(description="GET /results/{key} returns the body.")
    size: int
    sha256: str
    content_type: str


class StoredResultRef(BaseModel):
    """The reference to an uploaded result (what events carry instead of the data)."""

    result_ref: ResultRefBody


class CredentialIn(BaseModel):
    """PUT /credentials/{name}: the credential's type and data (encrypted before it is stored)."""

    model_config = _STRICT
    type: str = Field("generic", description="postgres, http or generic.")
    data: dict[str, Any] = Field(description="What tools use: dsn/host..., token..., any object.")


class CredentialOut(BaseModel):
    """What may be shown about a stored credential: never its data."""

    name: str
    type: str
    created_at: str
    updated_at: str


class CredentialStored(BaseModel):
    """The answer to PUT /credentials/{name}: `created` false when it replaced one."""

    name: str
    type: str
    created: bool


class RevealRequest(BaseModel):
    """POST /credentials/{name}/reveal: the command a worker needs the credential for."""

    model_config = _STRICT
    execution_id: str = Field(min_length=1, max_length=1024, pattern=_NO_NUL)
    command_id: str = Field(min_length=1, max_length=1024, pattern=_NO_NUL)
    claim_token: str = Field(min_length=1, max_length=1024, pattern=_NO_NUL)


class CredentialData(BaseModel):
    """A credential's decrypted data, for the worker running a task that uses it."""

    name: str
    data: dict[str, Any]


class WorkerHeartbeat(BaseModel):
    """PUT /workers/{worker_id}: what a worker says about itself (registers it on the first)."""

    model_config = _STRICT
    pool: str = Field(min_length=1, max_length=200)
    slots: int = Field(ge=1)
    busy: int = Field(ge=0)
    running: list[str] = Field(default_factory=list, max_length=10_000)
    version: str = Field(max_length=100)
    started_at: str = Field(max_length=64)
    lost_after: float = Field(gt=0, le=86_400, description="Seconds without a beat: lost.")


class WorkerOut(BaseModel):
    """One registered worker."""

    worker_id: str
    pool: str
    slots: int
    busy: int
    running: list[str]
    version: str
    started_at: str
    last_heartbeat: str
    status: str = Field(description="alive | lost (silent past its heartbeat timeout)")


class WorkerList(BaseModel):
    """GET /workers."""

    workers: list[WorkerOut]


class CheckPlaybook(BaseModel):
    """POST /playbooks/check: YAML to validate (and lay out), stored nowhere."""

    model_config = _STRICT
    content: str = Field(min_length=1, description="The playbook YAML.")
    file: str | None = Field(None, description="A name for the problems' locations.")
