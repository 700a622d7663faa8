"""Live progress of an execution on a terminal: one line per step event, a bar per loop."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

from noetl.engine.events import Event


class ProgressView:
    """Renders events of one execution as they are written to the log."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.execution_id: str | None = None
        self.progress = Progress(
            TextColumn("  [cyan]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=console,
            transient=True,
        )
        self.loops: dict[tuple[str | None, Any], TaskID] = {}

    def __enter__(self) -> ProgressView:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def __call__(self, event: Event) -> None:
        """Show `event` (a step started or ended, a loop advanced) when it is of this execution."""
        if self.execution_id is not None and event.execution_id != self.execution_id:
            return
        handler = getattr(self, "_" + event.type.replace(".", "_"), None)
        if handler is not None:
            handler(event)

    def _step_started(self, event: Event) -> None:
        self.console.print(f"[bold]▶[/] {escape(str(event.step))}")

    def _step_skipped(self, event: Event) -> None:
        reason = escape(str(event.payload.get("reason")))
        self.console.print(f"[dim]↷ {escape(str(event.step))} skipped ({reason})[/]")

    def _step_done(self, event: Event) -> None:
        if event.iteration is None:
            self.console.print(f"[green]✓[/] {escape(str(event.step))}")
        else:
            self._advance(event)

    def _step_reused(self, event: Event) -> None:
        if event.iteration is not None:
            self._advance(event)
            return
        origin = escape(str(event.payload.get("from_execution")))
        self.console.print(f"[green]✓[/] {escape(str(event.step))} [dim](reused from {origin})[/]")

    def _step_failed(self, event: Event) -> None:
        error = event.payload.get("error") or {}
        if event.iteration is not None:
            self._advance(event)
            return
        message = escape(str(error.get("message", "")))
        self.console.print(f"[red]✗ {escape(str(event.step))}[/]: {message}")

    def _task_failed(self, event: Event) -> None:
        error = event.payload.get("error") or {}
        task, attempt = event.payload.get("task"), event.payload.get("attempt")
        where = escape(f"{event.step}.{task} attempt {attempt}")
        message = escape(str(error.get("message", "")))
        self.console.print(f"[yellow]  ↻ {where}: {message}[/]")

    def _loop_started(self, event: Event) -> None:
        count = int(event.payload.get("count", 0))
        key = (event.step, event.payload.get("token"))
        self.loops[key] = self.progress.add_task(str(event.step), total=count)

    def _advance(self, event: Event) -> None:
        for (step, _), task in self.loops.items():
            if step == event.step:
                self.progress.advance(task)
                return

    def _loop_done(self, event: Event) -> None:
        task = self.loops.pop((event.step, event.payload.get("token")), None)
        if task is not None:
            self.progress.remove_task(task)
        stats = event.payload.get("stats") or {}
        mark = "[green]✓[/]" if event.payload.get("status") == "done" else "[red]✗[/]"
        done, failed = stats.get("done", 0), stats.get("failed", 0)
        self.console.print(f"{mark} {escape(str(event.step))} loop: {done} done, {failed} failed")
