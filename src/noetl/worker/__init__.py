"""The worker: take commands from a source, run each command's tool pipeline, apply `eval`
rules, report `task.*` / `step.*` events.

Entry points: `noetl.worker.loop.WorkerPool` (the loop) and `noetl.worker.pipeline.run_command`
(one command).
"""
