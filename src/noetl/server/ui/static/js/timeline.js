// The timeline: a Gantt of step runs. A loop's iterations are one band with its counts;
// retried task attempts are marked on the run. Times come from the log's created_at.

import { duration, h } from "./ui.js";

/** Gantt rows of `steps` (GET /executions/{id}/steps) within the execution's time span. */
export function drawTimeline(execution, steps, order, onSelect) {
  const start = new Date(execution.started_at).getTime();
  const end = execution.finished_at ? new Date(execution.finished_at).getTime() : Date.now();
  const span = Math.max(end - start, 1);
  const names = [...order.filter((n) => steps[n]), ...Object.keys(steps).filter((n) => !order.includes(n))];
  const rows = names.map((name) => {
    const step = steps[name];
    const bars = step.runs.map((run) => bar(run, start, span));
    return h("div", { class: "gantt-row" },
      h("button", { class: "gantt-name", type: "button", onclick: () => onSelect(name) }, name),
      h("div", { class: "gantt-track" }, ...bars));
  });
  const scale = h("div", { class: "gantt-scale" }, h("span", {}, "0"), h("span", {}, duration(execution.started_at, execution.finished_at)));
  if (!rows.length) return h("p", { class: "muted" }, "No step has run yet.");
  return h("div", { class: "gantt", role: "list", "aria-label": "Timeline of step runs" }, scale, ...rows);
}

function bar(run, start, span) {
  const from = new Date(run.started_at).getTime();
  const to = run.finished_at ? new Date(run.finished_at).getTime() : Date.now();
  const left = ((from - start) / span) * 100;
  const width = Math.max(((to - from) / span) * 100, 0.4);
  const label = [];
  if (run.loop) label.push(`${run.loop.done}/${run.loop.total}${run.loop.failed ? ` (${run.loop.failed} failed)` : ""}`);
  if (run.failed_attempts) label.push(`✗ ${run.failed_attempts} attempt(s)`);
  const title = `${run.state} · ${duration(run.started_at, run.finished_at)}${label.length ? ` · ${label.join(" · ")}` : ""}`;
  return h("div", {
    class: `gantt-bar s-${run.state}${run.loop ? " band" : ""}`, role: "listitem",
    style: `left:${Math.min(left, 99.6)}%;width:${Math.min(width, 100 - Math.min(left, 99.6))}%`, title,
  }, label.join(" · "));
}
