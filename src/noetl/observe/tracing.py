"""OpenTelemetry traces: one trace per execution, a span per step run and per task attempt.

The control plane opens an execution's span when it starts it and ends it with the execution;
each command handed to a worker carries that span's W3C `traceparent` (in the claim answer), so
the worker's step span (one per command: a step run or one loop iteration) and its task attempt
spans join the same trace, in another process too. A child playbook started by a task joins the
trace of the task that started it.

Nothing is traced until `use` (tests, `noetl run --trace`) or `use_otlp` (when
`OTEL_EXPORTER_OTLP_ENDPOINT` is set) installs a tracer provider: until then every function here
returns at its first line, so tracing off costs a flag test per step and per attempt.
Tracing on costs two SDK spans per step (benchmarks/observe.py); what is ours around them is
kept small: traceparents are parsed once, spans made current without `use_span`.
`opentelemetry-api`/`-sdk` come with the `tracing` extra, the OTLP exporter with `otlp`.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from noetl.errors import ConfigError

_tracer: Any = None  # an opentelemetry Tracer once tracing is on
_provider: Any = None
_otel_context: Any = None  # the `opentelemetry.context` and `.trace` modules, once tracing is on
_otel_trace: Any = None
ERROR_STATUSES = frozenset({"failed", "error", "cancelled"})


def use(provider: Any) -> None:
    """Trace with `provider` (an SDK `TracerProvider`) from now on; None turns tracing off."""
    global _tracer, _provider, _otel_context, _otel_trace
    _provider = provider
    _tracer = None if provider is None else provider.get_tracer("noetl")
    if provider is not None:
        from opentelemetry import context, trace

        _otel_context, _otel_trace = context, trace


def use_otlp(service: str) -> None:
    """Export spans over OTLP/HTTP to `OTEL_EXPORTER_OTLP_ENDPOINT` (the exporter reads that and
    the related `OTEL_*` settings itself)."""
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as exc:
        raise ConfigError(
            f"OTEL_EXPORTER_OTLP_ENDPOINT is set but the OTLP exporter is missing ({exc.name}): "
            "pip install 'noetl[otlp]'"
        ) from None
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    use(provider)


@contextlib.contextmanager
def traced(service: str, endpoint: str | None, trace_file: Path | None = None) -> Iterator[None]:
    """Tracing for the block (a process's life): exported over OTLP when `endpoint` is set,
    written to `trace_file` as OTLP JSON when given, not recorded at all otherwise."""
    if endpoint is None and trace_file is None:
        yield
        return
    collected = None
    if endpoint is not None:
        use_otlp(service)
    else:
        collected = _collect(service)
    try:
        yield
    finally:
        if collected is not None and trace_file is not None:
            write_otlp_json(collected.get_finished_spans(), trace_file)
        shutdown()


def _collect(service: str) -> Any:
    """Keep spans in memory (for `--trace FILE`); the exporter that holds them."""
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    except ImportError as exc:
        raise ConfigError(
            f"--trace needs OpenTelemetry ({exc.name} is missing): pip install 'noetl[otlp]'"
        ) from None

    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    use(provider)
    return exporter


def write_otlp_json(spans: Sequence[Any], path: Path) -> None:
    """Write finished spans as one OTLP/JSON `ExportTraceServiceRequest` (what collectors and
    trace viewers import)."""
    try:
        from google.protobuf.json_format import MessageToDict
        from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    except ImportError as exc:
        raise ConfigError(
            f"writing traces as OTLP JSON needs the OTLP exporter ({exc.name} is missing): "
            "pip install 'noetl[otlp]'"
        ) from None
    request = MessageToDict(encode_spans(spans))
    path.write_text(json.dumps(request, indent=1), encoding="utf-8")


def shutdown() -> None:
    """Export what is buffered and stop tracing."""
    if _provider is not None:
        _provider.shutdown()
    use(None)


def active() -> bool:
    """Whether spans are being recorded."""
    return _tracer is not None


def start_execution(execution_id: str, playbook: str, parent: str | None = None) -> tuple[Any, str]:
    """Open an execution's span (under `parent`, a traceparent, for a child playbook); the span
    and the traceparent its commands carry. (None, "") when tracing is off."""
    if _tracer is None:
        return None, ""
    attributes = {"noetl.execution_id": execution_id, "noetl.playbook": playbook}
    span = _tracer.start_span(
        f"execution {playbook}", context=_context(parent), attributes=attributes
    )
    return span, traceparent_of(span)


def end(span: Any, status: str, error: Mapping[str, Any] | None = None) -> None:
    """End `span` with `status` (an execution's, a step's or an attempt's)."""
    if span is None:
        return
    span.set_attribute("noetl.status", status)
    if status in ERROR_STATUSES:
        from opentelemetry.trace import Status, StatusCode

        message = str((error or {}).get("message") or status)
        span.set_status(Status(StatusCode.ERROR, message[:500]))
    span.end()


class span:  # lower case: read as a call, `with tracing.span(...) as opened:`
    """A span made current for the block (its children, a child playbook's start, see it):
    under `parent` (a traceparent) when given, else under the current span. Enters as None when
    tracing is off; the caller ends it with `end` (so it can set the status first).

    A class rather than a generator context manager, and `attach`/`detach` of the context rather
    than `trace.use_span`: a step run and each task attempt open one, so its cost is per step
    (benchmarks/observe.py)."""

    __slots__ = ("_attributes", "_name", "_opened", "_parent", "_token")

    def __init__(self, name: str, parent: str | None, attributes: Mapping[str, Any]) -> None:
        self._name = name
        self._parent = parent
        self._attributes = attributes
        self._opened: Any = None
        self._token: Any = None

    def __enter__(self) -> Any:
        if _tracer is None:
            return None
        parent = _context(self._parent) if self._parent else None
        # The SDK copies (and checks) the attributes into the span: no copy of ours.
        opened = _tracer.start_span(self._name, context=parent, attributes=self._attributes)
        self._opened = opened
        self._token = _otel_context.attach(_otel_trace.set_span_in_context(opened))
        return opened

    def __exit__(self, *exc: object) -> None:
        opened = self._opened
        if opened is None:
            return
        _otel_context.detach(self._token)
        if opened.is_recording():  # the caller did not end it (an exception went by)
            end(opened, "error")


def current_traceparent() -> str:
    """The traceparent of the current span ("" when none): what a child playbook joins."""
    if _tracer is None:
        return ""
    from opentelemetry import trace

    return traceparent_of(trace.get_current_span())


def traceparent_of(span: Any) -> str:
    """The W3C traceparent of `span` ("" for an invalid one)."""
    context = span.get_span_context()
    if not context.is_valid:
        return ""
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"


_PARENTS_KEPT = 1024  # parsed traceparents kept (the commands of one execution share one)
_parents: dict[str, Any] = {}


def _context(parent: str | None) -> Any:
    """The OpenTelemetry context of a traceparent, parsed once per traceparent: every command
    of an execution carries the same one."""
    if not parent:
        return None
    found = _parents.get(parent)
    if found is None:
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        found = TraceContextTextMapPropagator().extract({"traceparent": parent})
        if len(_parents) >= _PARENTS_KEPT:
            _parents.clear()
        _parents[parent] = found
    return found
