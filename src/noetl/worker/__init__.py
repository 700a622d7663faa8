"""The worker: run a command's tool pipeline, apply `eval` rules, emit `task.*` / `step.*` events.

Entry point: `noetl.worker.pipeline.run_command`.
"""
