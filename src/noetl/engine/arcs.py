"""Routing a finished step run through its `next` arcs: the step's own `set_ctx`, each arc's
guard (`when`, exclusive or inclusive), the arcs' `set_ctx` and `args`, and the tokens sent to
the arcs' targets; a failed run no arc takes fails the execution.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from noetl.engine import events as ev
from noetl.engine.decision import DecisionInProgress, Routing
from noetl.engine.definition import StepDef
from noetl.engine.routing import base_scope, truthy
from noetl.engine.state import Run
from noetl.errors import TemplateError


class ArcRouter(DecisionInProgress):
    """A decision in progress that routes finished step runs through their arcs."""

    def _route(
        self,
        run: Run,
        status: str,
        name: str,
        error: Any,
        step_vars: dict[str, Any],
        *,
        own_set_ctx: bool = False,
    ) -> None:
        """Fire the arcs of a step run that ended. A step's own `set_ctx` is applied here when
        no worker ran its whole pipeline (`own_set_ctx`: a routing step, a loop); a worker
        applies it otherwise, where large results are readable."""
        step = self.pb.step(run.step)
        scope = self._arc_scope(step, run, status, name, error, step_vars)
        own_key = f"ctx.set|{step.name}|{run.token}"
        if (
            own_set_ctx
            and status == "success"
            and step.set_ctx
            and not self._set_ctx(step, step.set_ctx, scope, own_key)
        ):
            return
        fired = self._matching_arcs(step, status, scope)
        if fired is None:
            return
        if step.next:
            # Exclusive routing stops at the first match: the arcs after it were not evaluated.
            exclusive = step.next_mode == "exclusive" and fired
            evaluated = fired[0] + 1 if exclusive else len(step.next)
            self.routed.append(Routing(step.name, evaluated, len(fired)))
        if status == "error" and not fired:
            self._fail_unrouted(step, error)
            return
        self._follow_arcs(step, run, fired, scope)

    def _arc_scope(
        self,
        step: StepDef,
        run: Run,
        status: str,
        name: str,
        error: Any,
        step_vars: dict[str, Any],
    ) -> dict[str, Any]:
        """What the step's and its arcs' templates read; empty when no template will read it
        (building it is not free)."""
        scope: dict[str, Any] = {}
        if step.set_ctx or any(
            arc.when is not None or arc.args or arc.set_ctx for arc in step.next
        ):
            scope = base_scope(self.s, run.args)
            scope["vars"] = step_vars
            scope["event"] = {"name": name, "status": status, "error": error}
        return scope

    def _fail_unrouted(self, step: StepDef, error: Any) -> None:
        """A failed run no arc takes fails the execution, with its error naming the step."""
        detail = dict(error) if isinstance(error, Mapping) else {"message": str(error)}
        detail.setdefault("kind", "step")
        detail["step"] = step.name
        message = str(detail.get("message", ""))
        if f"step '{step.name}'" not in message:  # the step is named once, not twice
            message = f"step '{step.name}' failed: {message}"
        detail["message"] = message
        self._fail_execution(detail)

    def _follow_arcs(
        self, step: StepDef, run: Run, fired: list[int], scope: dict[str, Any]
    ) -> None:
        """Apply each fired arc's `set_ctx` and send a token with its `args` to its target; a
        template that fails to render fails the execution and stops here."""
        for index in fired:
            arc = step.next[index]
            key = f"ctx.set|{step.name}|{run.token}|{index}"
            if arc.set_ctx and not self._set_ctx(step, arc.set_ctx, scope, key, index):
                return
            where = f"step '{step.name}' next[{index}] (to '{arc.step}') args"
            try:
                args = self._render(dict(arc.args), scope, where) if arc.args else {}
            except TemplateError as exc:
                self._fail_execution({"kind": "template", "message": str(exc), "step": step.name})
                return
            self.queue.append((arc.step, self._token(dict(args), step.name, run.fresh)))

    def _set_ctx(
        self,
        step: StepDef,
        values: Mapping[str, Any],
        scope: dict[str, Any],
        key: str,
        arc: int | None = None,
    ) -> bool:
        """Render and apply a step's (or one of its arcs') `set_ctx`; False when a template
        failed (the execution has failed then)."""
        where = (
            f"step '{step.name}' set_ctx"
            if arc is None
            else f"step '{step.name}' next[{arc}] set_ctx"
        )
        try:
            values = self._render(dict(values), scope, where)
        except TemplateError as exc:
            self._fail_execution({"kind": "template", "message": str(exc), "step": step.name})
            return False
        payload: dict[str, Any] = {"set_ctx": values}
        if arc is not None:
            payload["arc"] = arc
        self._emit(ev.CTX_SET, step.name, payload, key)
        return True

    def _matching_arcs(self, step: StepDef, status: str, scope: dict[str, Any]) -> list[int] | None:
        """Indexes of the arcs that fire; None when a guard failed to render (execution failed)."""
        fired: list[int] = []
        for index, arc in enumerate(step.next):
            if arc.when is None:
                match = status == "success"
            else:
                where = f"step '{step.name}' next[{index}] (to '{arc.step}') when"
                try:
                    match = truthy(self._render(arc.when, scope, where))
                except TemplateError as exc:
                    if status == "error":
                        # A guard reading the result the failed step never produced: the step's
                        # own error is what went wrong, so the arc simply does not match.
                        continue
                    error = {"kind": "template", "message": str(exc), "step": step.name}
                    self._fail_execution(error)
                    return None
            if match:
                fired.append(index)
                if step.next_mode == "exclusive":
                    break
        return fired
