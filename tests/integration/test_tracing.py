"""OpenTelemetry traces, checked with an in-memory span exporter: one trace per execution, a
span per step run (loop iterations included) and per task attempt, a child playbook in its
parent's trace; embedded, and distributed (a real server and a worker on NATS in this process,
so both export to the same exporter)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from noetl.client.transport import ServerClient
from noetl.config import Settings
from noetl.dsl.load import load_playbook
from noetl.observe import tracing
from noetl.runtime.assemble import open_embedded, open_worker
from support.live_server import LiveServer

CHILD = """\
apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: child}
workflow:
  - step: start
    tool: {kind: python, args: {n: "{{ workload.n }}"}, code: "result = n * 10"}
"""
PARENT = """\
apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: parent}
workflow:
  - step: start
    tool:
      - flaky:
          kind: python
          args: {attempt: "{{ _attempt }}"}
          code: |
            if attempt == 1:
                raise ConnectionError("first attempt fails")
            result = attempt
          eval:
            - expr: "{{ outcome.status == 'error' }}"
              do: retry
              attempts: 2
              delay: 10ms
    next: [{step: each}]
  - step: each
    loop: {in: [1, 2, 3], iterator: n}
    tool: {kind: python, args: {n: "{{ iter.n }}"}, code: "result = n"}
    next: [{step: call}]
  - step: call
    tool: {kind: playbook, path: child.yaml, args: {n: 4}}
"""


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.use(provider)
    try:
        yield exporter
    finally:
        tracing.use(None)


def check_tree(finished: tuple[ReadableSpan, ...]) -> None:
    """The span tree of one PARENT execution (with its child), whichever mode ran it."""
    by_id = {s.context.span_id: s for s in finished}
    assert len({s.context.trace_id for s in finished}) == 1, "one trace"

    def parent(span: ReadableSpan) -> ReadableSpan | None:
        return by_id.get(span.parent.span_id) if span.parent is not None else None

    def named(name: str) -> list[ReadableSpan]:
        return [s for s in finished if s.name == name]

    [root] = named("execution parent")
    assert root.parent is None and root.attributes["noetl.status"] == "done"
    steps = [s for s in finished if s.name.startswith("step ") and parent(s) is root]
    names = sorted(s.name for s in steps)
    assert names == ["step call", "step each", "step each", "step each", "step start"]
    assert sorted(s.attributes["noetl.iteration"] for s in named("step each")) == [0, 1, 2]
    for step in steps:
        assert step.attributes["noetl.worker_id"]
        assert step.attributes["noetl.status"] == "done"
        assert step.start_time >= root.start_time and step.end_time <= root.end_time
    flaky = sorted(named("task flaky"), key=lambda s: s.attributes["noetl.attempt"])
    assert [s.attributes["noetl.attempt"] for s in flaky] == [1, 2]
    assert [s.status.status_code for s in flaky] == [StatusCode.ERROR, StatusCode.UNSET]
    assert all(parent(s) is named("step start")[0] for s in flaky)
    assert flaky[0].attributes["noetl.tool_kind"] == "python"
    assert flaky[1].start_time > flaky[0].end_time  # the retry came after the first attempt
    [child] = named("execution child")
    call_task = parent(child)  # the child joined the trace of the task that started it
    assert call_task is not None and call_task.name.startswith("task ")
    assert call_task.attributes["noetl.tool_kind"] == "playbook"
    assert parent(call_task) is named("step call")[0]
    [child_step] = [s for s in finished if s.name == "step start" and parent(s) is child]
    assert child_step.attributes["noetl.playbook"] == "child"


def write_playbooks(folder: Path) -> Path:
    (folder / "child.yaml").write_text(CHILD)
    parent = folder / "parent.yaml"
    parent.write_text(PARENT)
    return parent


def test_an_embedded_execution_is_one_trace_of_step_and_task_spans(tmp_path, spans):
    path = write_playbooks(tmp_path)

    async def scenario() -> Any:
        runtime = await open_embedded(Settings.load(env={}, db=tmp_path / "n.db"))
        try:
            return await runtime.run(load_playbook(path), source=path.read_text())
        finally:
            await runtime.close()

    summary = asyncio.run(scenario())
    assert summary.status == "done", summary.error
    check_tree(spans.get_finished_spans())


def test_server_and_worker_spans_join_in_one_trace(tmp_path, spans, nats_url):
    write_playbooks(tmp_path)
    settings = Settings.load(env={}, home=tmp_path / "server", nats_url=nats_url)
    with LiveServer(settings) as server:

        async def scenario() -> dict[str, Any]:
            worker = await open_worker(
                Settings.load(env={}, server_url=server.url, nats_url=nats_url, worker_id="w1")
            )
            client = ServerClient(server.url)
            try:
                await client.register(CHILD, path="child.yaml")  # the server resolves the child
                execution_id = await client.start(playbook=PARENT)
                return await client.wait(execution_id)
            finally:
                await client.aclose()
                await worker.close()

        summary = asyncio.run(scenario())
    assert summary["status"] == "done", summary["error"]
    finished = spans.get_finished_spans()
    check_tree(finished)
    assert {s.attributes.get("noetl.worker_id") for s in finished if s.name.startswith("step")} == {
        "w1"
    }
