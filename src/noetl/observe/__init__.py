"""Seeing inside a running NoETL: Prometheus metrics, OpenTelemetry traces, one logging setup.

Nothing here decides anything: the runtime and the workers call these hooks with what happened.
`hooks.Observer` is the do-nothing observer (what an embedded run uses); `metrics.Metrics`
needs `prometheus-client` (the distributed extra) and is what a server's `/metrics` shows;
`tracing` records OpenTelemetry spans once a tracer provider is installed; `logsetup` is the one
logging configuration of every process. (What tasks print is captured by `noetl.worker.output`.)
"""
