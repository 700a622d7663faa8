// One execution: summary and actions, the graph coloured by step state, the timeline, the
// event log and the step panel, all kept live by the execution's event stream.

import { api, stream } from "../api.js";
import { eventLog } from "../events.js";
import { drawGraph, selectNode, updateGraph } from "../graph.js";
import { present, badge, banner, connection, duration, liveDuration, failed, fmtTime, h, jsonView, resultView, show, shortId, tabs } from "../ui.js";

// The timeline and the start dialog are loaded when first used: the modules the page needs
// before it can draw are fewer than a browser's six connections.
const timelineModule = () => import("../timeline.js");
const startModule = () => import("../start.js");

export default async function executionPage(id) {
  // The playbook is asked for and checked (its graph laid out) at once, beside the steps: the
  // check does not wait for the steps' answer.
  const source = api(`/executions/${encodeURIComponent(id)}/playbook`);
  const checked = source.then((found) => api("/playbooks/check", { method: "POST", body: { content: found.source, file: "playbook" } }));
  checked.catch(() => {}); // a failure is reported by the steps' answer or by loadGraph
  let view;
  try {
    view = await api(`/executions/${encodeURIComponent(id)}/steps`);
  } catch (error) {
    return failed(error, "execution");
  }
  const page = { id, view, graph: null, svg: null, order: [], selected: null };
  const head = h("div", { class: "head" });
  const graphBox = h("div", { class: "graph-box", tabindex: "-1" });
  const panel = h("aside", { class: "panel", "aria-label": "Step details", "aria-live": "polite" },
    h("p", { class: "muted" }, "Select a step (click, or Tab and Enter) to see its details."));
  const timelineBox = h("div", { class: "timeline-box" });
  const log = eventLog(id, Object.keys(view.steps));
  const sections = {
    graph: h("section", { class: "split", id: "panel-graph", role: "tabpanel" }, graphBox, panel),
    timeline: h("section", { id: "panel-timeline", role: "tabpanel", hidden: true }, timelineBox),
    events: h("section", { id: "panel-events", role: "tabpanel", hidden: true }, log.element),
  };
  let logLoaded = false;
  const tabBar = tabs([["graph", "Graph"], ["timeline", "Timeline"], ["events", "Event log"]], (key) => {
    for (const [name, section] of Object.entries(sections)) section.hidden = name !== key;
    if (key === "events" && !logLoaded) { logLoaded = true; log.load().catch((e) => banner(e.message)); }
    if (key === "timeline") renderTimeline();
  });
  show(head, tabBar.element, ...Object.values(sections));

  const select = (name) => {
    page.selected = name;
    if (page.svg) selectNode(page.svg, name);
    renderPanel();
  };
  const renderTimeline = () => timelineModule().then(({ drawTimeline }) => timelineBox.replaceChildren(drawTimeline(page.view.execution, page.view.steps, page.order, (name) => { tabBar.select("graph"); select(name); })));
  const renderPanel = () => page.selected && panel.replaceChildren(...present(stepPanel(page, () => { tabBar.select("events"); log.filterStep(page.selected); })));
  const refresh = () => {
    renderHead(head, page);
    if (page.svg) updateGraph(page.svg, page.view.steps);
    if (!sections.timeline.hidden) renderTimeline();
    renderPanel();
  };
  refresh();
  await loadGraph(page, graphBox, select, checked);
  refresh();
  // An execution that has ended will not change: no stream (and no reload when it says so).
  if (page.view.execution.status === "running") follow(page, log, refresh);
}

async function loadGraph(page, box, select, checked) {
  try {
    const check = await checked;
    if (!check.valid) {
      box.replaceChildren(h("div", { class: "notice" }, h("h2", {}, "This execution's playbook no longer validates"),
        h("p", {}, "The graph cannot be drawn; the event log and timeline still show what happened."),
        h("ul", {}, ...check.problems.map((p) => h("li", {}, `line ${p.line ?? "?"}: ${p.message}`)))));
      return;
    }
    page.graph = check.graph;
    page.order = check.graph.nodes.map((n) => n.id);
    page.svg = drawGraph(check.graph, select);
    box.replaceChildren(page.svg);
  } catch (error) {
    box.replaceChildren(h("p", { class: "notice" }, `The graph could not be loaded: ${error.message}`));
  }
}

function follow(page, log, refresh) {
  let timer = null;
  const reload = async () => {
    timer = null;
    try { page.view = await api(`/executions/${page.id}/steps`); refresh(); } catch (error) { banner(error.message); }
  };
  stream(`/executions/${page.id}/events/stream`, {
    lastId: page.view.execution.last_seq,
    onMessage(event, data) {
      if (event === "events") log.append(data);
      // The step view is folded on the server (incrementally): ask once per burst of events.
      if (!timer) timer = setTimeout(reload, event === "end" ? 0 : 250);
    },
    onState: connection,
  });
}

function renderHead(head, page) {
  const e = page.view.execution;
  const actions = h("div", { class: "actions" });
  if (e.status === "running") {
    actions.append(h("button", { type: "button", class: "danger", id: "cancel", onclick: () => cancel(page) }, "Cancel"));
  }
  actions.append(h("button", { type: "button", id: "again", onclick: () => runAgain(page) }, "Run again…"));
  const facts = h("dl", { class: "facts" },
    h("dt", {}, "Playbook"), h("dd", {}, h("a", { href: `/playbooks/${e.playbook_path}` }, e.playbook_path), page.view.playbook.catalog ? ` v${page.view.playbook.catalog.version}` : " (inline)"),
    h("dt", {}, "Started"), h("dd", {}, fmtTime(e.started_at)),
    h("dt", {}, "Duration"), h("dd", {}, liveDuration(e.started_at, e.finished_at)),
    h("dt", {}, "Steps"), h("dd", {}, `${e.steps_done} done, ${e.steps_failed} failed, ${e.steps_skipped} skipped`),
    e.parent_execution_id ? [h("dt", {}, "Parent"), h("dd", {}, h("a", { href: `/executions/${e.parent_execution_id}`, class: "mono" }, e.parent_execution_id))] : [],
    h("dt", {}, "Children"), h("dd", { id: "children" }, childrenOf(page)));
  const error = e.error ? h("div", { class: "error-box" }, h("strong", {}, "Error: "), e.error.message || e.error.reason || JSON.stringify(e.error)) : null;
  head.replaceChildren(...present([h("div", { class: "title" }, h("h1", {}, "Execution ", h("span", { class: "mono" }, e.execution_id)), badge(e.status), actions), facts, error]));
}

function childrenOf(page) {
  const target = h("span", { class: "muted" }, "…");
  if (page.children) { fill(page.children); return target; }
  api(`/executions?parent=${page.id}&limit=20`).then((list) => { page.children = list.executions; fill(list.executions); }).catch(() => { target.textContent = ""; });
  function fill(children) {
    target.replaceChildren(...(children.length ? children.map((c) => h("a", { href: `/executions/${c.execution_id}`, class: "mono child" }, `${shortId(c.execution_id)} (${c.status})`)) : ["none"]));
  }
  return target;
}

async function cancel(page) {
  try {
    const summary = await api(`/executions/${page.id}/cancel`, { method: "POST" });
    page.view.execution = summary;
    banner("Cancel requested.", "info");
  } catch (error) {
    banner(`Cancel refused: ${error.message}`);
  }
}

async function runAgain(page) {
  const info = page.view.playbook;
  const started = await eventAt(page, 1); // playbook.started: the payload it ran with
  const payload = started.payload.payload || {};
  // The same catalog entry when it came from the catalog, else the same YAML again.
  const target = info.catalog ? { ...info.catalog } : { playbook: (await api(`/executions/${page.id}/playbook`)).source };
  const { payloadDialog } = await startModule();
  payloadDialog(`Run ${info.path || info.name} again`, payload, async (edited) => {
    const started = await api("/executions", { method: "POST", body: { ...target, payload: edited } });
    location.href = `/executions/${started.execution_id}`;
  });
}

function stepPanel(page, showEvents) {
  const name = page.selected;
  const step = page.view.steps[name];
  const node = page.graph ? page.graph.nodes.find((n) => n.id === name) : null;
  const parts = [h("h2", {}, "Step ", h("span", { class: "mono" }, name)), badge(step ? step.state : "pending")];
  if (node) parts.push(h("p", { class: "muted" }, node.kinds.length ? `tasks: ${node.kinds.join(", ")}` : "a routing step", node.loop ? ` · loop, ${node.loop.mode}` : ""));
  if (!step) return [...parts, h("p", {}, "This step has not run.")];
  const run = step.runs[step.runs.length - 1];
  if (run) {
    parts.push(h("p", {}, `Run ${step.run_count}: ${duration(run.started_at, run.finished_at)}`,
      run.loop ? ` · iterations ${run.loop.done}/${run.loop.total} done${run.loop.failed ? `, ${run.loop.failed} failed` : ""}` : "",
      run.failed_attempts ? ` · ${run.failed_attempts} failed attempt(s)` : ""));
    const workers = run.workers || [];
    parts.push(h("p", { class: "ran-on" }, workers.length ? [`Worker${workers.length > 1 ? "s" : ""}: `, ...workers.flatMap((w, i) => [i ? ", " : "", h("span", { class: "mono" }, w)])]
      : h("span", { class: "muted" }, run.state === "running" ? "Worker: named when it ends (see the attempts below)" : "Worker: none recorded")));
  }
  if (step.error) {
    const at = step.error_at || {};
    parts.push(h("div", { class: "error-box step-error" },
      h("h3", {}, "Error"), h("p", {}, step.error.message),
      h("p", { class: "muted" }, `in task ${step.error.task ?? "?"}`, at.iteration !== null && at.iteration !== undefined ? `, iteration ${at.iteration}` : "", `, event seq ${at.seq}`),
      step.error.traceback ? h("pre", { class: "traceback" }, step.error.traceback) : null));
  }
  parts.push(h("h3", {}, "Task attempts"), attempts(page, name, step));
  parts.push(h("h3", {}, "Logs"), taskLogs(page, name, step));
  parts.push(h("h3", {}, "Args"), fromEvent(page, step.args_seq, (e) => jsonView(e.payload.args ?? {})));
  if (step.result_seq) parts.push(h("h3", {}, "Result"), fromEvent(page, step.result_seq, (e) => resultView(e.payload.result)));
  parts.push(h("button", { type: "button", onclick: showEvents }, "Events of this step"));
  return parts;
}

const ATTEMPTS = 100; // task attempts listed in the panel (a loop's first ones)

/** The step's task attempts (from its task.done / task.failed events), fetched once per state. */
function attempts(page, name, step) {
  page.attempts = page.attempts || {};
  const key = `${name}|${step.run_count}|${step.state}`;
  const box = h("div", { class: "attempts" });
  const fill = (rows) => box.replaceChildren(rows.length ? attemptTable(rows) : h("p", { class: "muted" }, "No task has run."));
  if (page.attempts[key]) { fill(page.attempts[key]); return box; }
  box.append(h("p", { class: "muted" }, "…"));
  const query = new URLSearchParams({ step: name, limit: ATTEMPTS });
  query.append("type", "task.done");
  query.append("type", "task.failed");
  api(`/executions/${page.id}/events?${query}`)
    .then((answer) => { page.attempts[key] = answer.events; fill(answer.events); })
    .catch((error) => box.replaceChildren(h("p", { class: "muted" }, error.message)));
  return box;
}

function attemptTable(events) {
  const loop = events.some((e) => e.iteration !== null && e.iteration !== undefined); // else no iteration column
  const rows = events.map((e) => h("tr", { class: e.type === "task.failed" ? "bad" : "" },
    loop ? h("td", {}, e.iteration ?? "") : null, h("td", {}, e.payload.task ?? ""), h("td", {}, e.payload.attempt ?? ""),
    h("td", {}, e.payload.duration_ms !== undefined ? `${Math.round(e.payload.duration_ms)} ms` : ""),
    h("td", { class: "mono" }, e.payload.worker_id ?? ""),
    h("td", {}, e.type === "task.failed" ? (e.payload.error && e.payload.error.message) || "failed" : "done")));
  const more = events.length >= ATTEMPTS ? h("p", { class: "muted" }, `the first ${ATTEMPTS}; the event log has them all`) : null;
  return h("div", { class: "scroll" }, h("table", { class: "list compact", "aria-label": "Task attempts" },
    h("thead", {}, h("tr", {}, ...[loop ? "iter." : null, "task", "attempt", "took", "worker", "outcome"].map((t) => t && h("th", { scope: "col" }, t)))),
    h("tbody", {}, ...rows)), more);
}

const LOGS = 50; // task attempts whose output the panel shows (a loop's first ones)

/** What the step's task attempts printed (GET .../logs: captured output, secrets masked when
 * they were recorded), fetched once per state like the attempts. */
function taskLogs(page, name, step) {
  page.logs = page.logs || {};
  const key = `${name}|${step.run_count}|${step.state}`;
  const box = h("div", { class: "task-logs" });
  const fill = (entries) => box.replaceChildren(...(entries.length ? logEntries(entries) : [h("p", { class: "muted" }, "No task printed anything.")]));
  if (page.logs[key]) { fill(page.logs[key]); return box; }
  box.append(h("p", { class: "muted" }, "…"));
  api(`/executions/${page.id}/logs?${new URLSearchParams({ step: name, limit: LOGS })}`)
    .then((answer) => { page.logs[key] = answer.logs; fill(answer.logs); })
    .catch((error) => box.replaceChildren(h("p", { class: "muted" }, error.message)));
  return box;
}

function logEntries(entries) {
  const shown = entries.map((e) => h("div", { class: `log-entry${e.status === "error" ? " bad" : ""}` },
    h("p", { class: "log-head" }, e.iteration !== null && e.iteration !== undefined ? `iteration ${e.iteration} · ` : "",
      `task ${e.task} · attempt ${e.attempt} · ${e.status === "error" ? "failed" : "done"} on `, h("span", { class: "mono" }, e.worker_id || "?"),
      e.truncated ? " · truncated: the tail is kept" : ""),
    h("pre", { class: "log-text" }, e.output)));
  if (entries.length >= LOGS) shown.push(h("p", { class: "muted" }, `the first ${LOGS}; noetl logs shows them all`));
  return shown;
}

/** The event with `seq` (fetched once per page: args and results are read where they are). */
function eventAt(page, seq) {
  page.events = page.events || new Map();
  if (!page.events.has(seq)) {
    const asked = api(`/executions/${page.id}/events?after_seq=${seq - 1}&limit=1`).then((answer) => answer.events[0]);
    asked.catch(() => page.events.delete(seq));
    page.events.set(seq, asked);
  }
  return page.events.get(seq);
}

/** A box filled with `show(event)` once the event with `seq` is here. */
function fromEvent(page, seq, show) {
  const box = h("div", {}, h("p", { class: "muted" }, seq ? "…" : "none"));
  if (seq) {
    eventAt(page, seq).then((event) => box.replaceChildren(show(event)))
      .catch((error) => box.replaceChildren(h("p", { class: "muted" }, error.message)));
  }
  return box;
}
