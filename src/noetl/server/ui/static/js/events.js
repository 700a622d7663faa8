// The event log: pages of events in seq order, filtered by type and step on the server (so a
// filter covers the whole log, not what happens to be loaded), payload on demand.

import { api } from "./api.js";
import { fmtPrecise, h, jsonView } from "./ui.js";

const PAGE = 500;
const TYPES = [
  "playbook.started", "playbook.done", "playbook.failed", "playbook.cancelled",
  "step.started", "step.done", "step.failed", "step.skipped", "loop.started", "loop.done",
  "command.issued", "command.claimed", "command.started", "command.expired", "command.dead",
  "task.done", "task.failed",
];

/** The event log view of one execution; `append(events)` adds live ones. */
export function eventLog(executionId, steps) {
  const state = { events: [], last: 0, complete: false, type: "", step: "", loading: null };
  const type = h("select", { id: "ev-type", "aria-label": "Event type" }, h("option", { value: "" }, "all types"),
    ...TYPES.map((t) => h("option", { value: t }, t)));
  const step = h("select", { id: "ev-step", "aria-label": "Step" }, h("option", { value: "" }, "all steps"));
  const body = h("tbody");
  const more = h("button", { type: "button", onclick: () => load() }, "Load more");
  const count = h("span", { class: "muted", id: "ev-count", "aria-live": "polite" });
  const element = h("section", { class: "events" },
    h("div", { class: "filters" }, h("label", { for: "ev-type" }, "Type"), type, h("label", { for: "ev-step" }, "Step"), step, count),
    h("div", { class: "scroll" }, h("table", { class: "list", "aria-label": "Event log" },
      h("thead", {}, h("tr", {}, ...["seq", "time", "type", "step", "iteration", "origin"].map((t) => h("th", { scope: "col" }, t)))), body)),
    more);
  const refilter = () => { state.type = type.value; state.step = step.value; restart(); };
  type.addEventListener("change", refilter);
  step.addEventListener("change", refilter);

  function addSteps(names) {
    const known = new Set([...step.options].map((o) => o.value));
    for (const name of names) if (!known.has(name)) { step.append(h("option", { value: name }, name)); known.add(name); }
  }
  addSteps(steps);

  const wanted = (e) => (!state.type || e.type === state.type) && (!state.step || e.step === state.step);

  function add(events) {
    const fresh = events.filter((e) => e.seq > state.last && wanted(e));
    if (fresh.length) {
      state.events.push(...fresh);
      body.append(...fresh.map(row));
      state.last = fresh[fresh.length - 1].seq;
    }
    count.textContent = `${state.events.length} event(s) shown${state.complete ? "" : ", more to load"}`;
    more.hidden = state.complete;
  }

  function restart() {
    state.events = [];
    state.last = 0;
    state.complete = false;
    body.replaceChildren();
    return load();
  }

  async function load() {
    const query = new URLSearchParams({ after_seq: state.last, limit: PAGE });
    if (state.type) query.set("type", state.type);
    if (state.step) query.set("step", state.step);
    const asked = `${state.type}|${state.step}`;
    const page = await api(`/executions/${executionId}/events?${query}`);
    if (asked !== `${state.type}|${state.step}`) return; // the filter changed meanwhile
    state.complete = page.events.length < PAGE;
    add(page.events);
  }

  return {
    element,
    load,
    /** Live events; shown once everything before them is loaded (no gap in the view). */
    append(events) {
      addSteps(events.map((e) => e.step).filter(Boolean));
      if (state.complete) add(events);
    },
    filterStep(name) { addSteps([name]); step.value = name; refilter(); },
  };
}

function row(event) {
  const details = h("details", {}, h("summary", {}, event.type), jsonView(event.payload));
  return h("tr", { "data-seq": event.seq, "data-type": event.type },
    h("td", { class: "mono" }, event.seq), h("td", { class: "nowrap" }, fmtPrecise(event.created_at)), h("td", {}, details),
    h("td", {}, event.step ?? ""), h("td", {}, event.iteration ?? ""), h("td", {}, event.origin));
}
