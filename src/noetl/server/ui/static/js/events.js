// The event log: pages of events (seq order), filtered by type and step, payload on demand.

import { api } from "./api.js";
import { fmtPrecise, h, jsonView } from "./ui.js";

const PAGE = 500;

/** The event log view of one execution; `append(events)` adds live ones. */
export function eventLog(executionId) {
  const state = { events: [], last: 0, complete: false, type: "", step: "" };
  const type = h("select", { id: "ev-type", "aria-label": "Event type" }, h("option", { value: "" }, "all types"));
  const step = h("select", { id: "ev-step", "aria-label": "Step" }, h("option", { value: "" }, "all steps"));
  const body = h("tbody");
  const more = h("button", { type: "button", onclick: () => load() }, "Load more");
  const count = h("span", { class: "muted", "aria-live": "polite" });
  const element = h("section", { class: "events" },
    h("div", { class: "filters" }, h("label", { for: "ev-type" }, "Type"), type, h("label", { for: "ev-step" }, "Step"), step, count),
    h("div", { class: "scroll" }, h("table", { class: "list", "aria-label": "Event log" },
      h("thead", {}, h("tr", {}, ...["seq", "time", "type", "step", "iteration", "origin"].map((t) => h("th", { scope: "col" }, t)))), body)),
    more);
  type.addEventListener("change", () => { state.type = type.value; render(); });
  step.addEventListener("change", () => { state.step = step.value; render(); });

  function options(select, values) {
    const known = new Set([...select.options].map((o) => o.value));
    for (const value of [...values].sort()) if (!known.has(value)) select.append(h("option", { value }, value));
  }

  function render() {
    const shown = state.events.filter((e) => (!state.type || e.type === state.type) && (!state.step || e.step === state.step));
    body.replaceChildren(...shown.slice(0, 2000).map(row));
    count.textContent = `${shown.length} of ${state.events.length} loaded events`;
    more.hidden = state.complete;
  }

  function add(events) {
    const fresh = events.filter((e) => e.seq > state.last);
    if (!fresh.length) return;
    state.events.push(...fresh);
    state.last = fresh[fresh.length - 1].seq;
    options(type, new Set(fresh.map((e) => e.type)));
    options(step, new Set(fresh.map((e) => e.step).filter(Boolean)));
    render();
  }

  async function load() {
    const page = await api(`/executions/${executionId}/events?after_seq=${state.last}&limit=${PAGE}`);
    state.complete = page.events.length < PAGE;
    add(page.events);
    render();
  }

  return {
    element,
    load,
    /** Live events; kept only when everything before them is loaded (no gap in the view). */
    append(events) { if (state.complete) add(events); },
    filterStep(name) { options(step, [name]); step.value = name; state.step = name; render(); },
  };
}

function row(event) {
  const details = h("details", {}, h("summary", {}, event.type), jsonView(event.payload));
  return h("tr", { "data-seq": event.seq, "data-type": event.type },
    h("td", { class: "mono" }, event.seq), h("td", { class: "nowrap" }, fmtPrecise(event.created_at)), h("td", {}, details),
    h("td", {}, event.step ?? ""), h("td", {}, event.iteration ?? ""), h("td", {}, event.origin));
}
