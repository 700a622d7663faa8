// Executions: filters, search by id, keyset pages, live rows from the list stream.

import { api, stream } from "../api.js";
import { badge, banner, connection, failed, liveDuration, fmtTime, h, shortId, show } from "../ui.js";

const LIMIT = 50;
const STATUSES = ["", "running", "done", "failed", "cancelled"];

export default async function executionsPage() {
  const params = new URLSearchParams(location.search);
  const state = { pages: [], rows: new Map(), filters: readFilters(params) };
  const body = h("tbody");
  const table = h("table", { class: "list", "aria-label": "Executions" },
    h("thead", {}, h("tr", {}, ...["Execution", "Status", "Playbook", "Version", "Started", "Duration", "Steps", "Parent"].map((t) => h("th", { scope: "col" }, t)))),
    body);
  const older = h("button", { type: "button", onclick: () => turn(1) }, "Older →");
  const newer = h("button", { type: "button", onclick: () => turn(-1) }, "← Newer");
  const info = h("span", { class: "muted", "aria-live": "polite" });
  const form = filterForm(state.filters, (filters) => {
    state.filters = filters;
    state.pages = [];
    history.replaceState(null, "", `/?${new URLSearchParams(clean(filters))}`);
    load(null);
  });
  show(h("h1", {}, "Executions"), searchForm(), form, h("div", { class: "scroll" }, table),
    h("div", { class: "pager" }, newer, info, older));

  let asked = 0; // the latest load: an answer to an earlier one (other filters) is dropped
  async function load(before) {
    const mine = ++asked;
    try {
      const query = new URLSearchParams({ ...apiFilters(state.filters), limit: LIMIT });
      if (before) query.set("before", before);
      const page = await api(`/executions?${query}`);
      if (mine !== asked) return;
      state.pages.push({ before, next: page.next });
      render(page.executions);
      banner(null);
    } catch (error) {
      if (error.status === 422) banner(`Filter refused: ${error.message}`);
      else failed(error, "executions");
    }
  }

  function render(executions) {
    state.rows.clear();
    body.replaceChildren(...executions.map((e) => row(e, state.rows)));
    if (!executions.length) body.append(h("tr", {}, h("td", { colspan: 8, class: "empty" }, "No executions match.")));
    const current = state.pages[state.pages.length - 1];
    older.disabled = !current.next;
    newer.disabled = state.pages.length < 2;
    info.textContent = `page ${state.pages.length}`;
  }

  function turn(direction) {
    if (direction > 0) load(state.pages[state.pages.length - 1].next);
    else { state.pages.pop(); const previous = state.pages.pop(); load(previous ? previous.before : null); }
  }

  function live(summaries) {
    const first = state.pages.length === 1;
    for (const summary of summaries) {
      const existing = state.rows.get(summary.execution_id);
      if (existing) existing.replaceWith(row(summary, state.rows));
      else if (first && matches(summary, state.filters)) {
        body.querySelector("td.empty")?.parentElement.remove();
        body.prepend(row(summary, state.rows));
        while (body.children.length > LIMIT) {
          const last = body.lastElementChild;
          state.rows.delete(last.dataset.id);
          last.remove();
        }
      }
    }
  }

  await load(null);
  let dropped = false;
  stream("/executions/stream", {
    onMessage: (event, data) => event === "executions" && live(data),
    onState(mode) {
      connection(mode);
      // The list stream has no replay: after a drop, the page is read again once.
      if (mode === "reconnecting") dropped = true;
      if (mode === "live" && dropped) {
        dropped = false;
        reloadCurrent();
      }
    },
  });

  function reloadCurrent() {
    const current = state.pages.pop();
    load(current ? current.before : null);
  }
}

function row(e, rows) {
  const tr = h("tr", { "data-id": e.execution_id, class: `s-${e.status}` },
    h("td", {}, h("a", { href: `/executions/${e.execution_id}`, class: "mono" }, e.execution_id)),
    h("td", {}, badge(e.status)),
    h("td", {}, h("a", { href: `/playbooks/${e.playbook_path}` }, e.playbook_path), h("div", { class: "muted" }, e.playbook_name)),
    h("td", { class: "version" }, e.playbook_version ? `v${e.playbook_version}` : h("span", { class: "muted", title: "not started from the catalog" }, "—")),
    h("td", {}, fmtTime(e.started_at)),
    h("td", {}, liveDuration(e.started_at, e.finished_at)),
    h("td", {}, `${e.steps_done} done`, e.steps_failed ? h("span", { class: "bad" }, ` · ${e.steps_failed} failed`) : ""),
    h("td", {}, e.parent_execution_id ? h("a", { href: `/executions/${e.parent_execution_id}`, class: "mono" }, shortId(e.parent_execution_id)) : ""));
  rows.set(e.execution_id, tr);
  return tr;
}

function readFilters(params) {
  return {
    status: params.get("status") || "",
    playbook: params.get("playbook") || "",
    since: params.get("since") || "",
    until: params.get("until") || "",
  };
}

function clean(filters) {
  return Object.fromEntries(Object.entries(filters).filter(([, v]) => v));
}

// datetime-local inputs are in the browser's time zone; the API is given UTC.
function apiFilters(filters) {
  const chosen = clean(filters);
  for (const key of ["since", "until"]) {
    if (chosen[key]) chosen[key] = new Date(chosen[key]).toISOString();
  }
  return chosen;
}

function matches(summary, filters) {
  if (filters.status && summary.status !== filters.status) return false;
  if (filters.playbook && summary.playbook_path !== filters.playbook) return false;
  if (filters.since && new Date(summary.started_at) < new Date(filters.since)) return false;
  if (filters.until && new Date(summary.started_at) >= new Date(filters.until)) return false;
  return true;
}

function filterForm(filters, apply) {
  const status = h("select", { name: "status", id: "f-status" },
    ...STATUSES.map((s) => h("option", { value: s, selected: s === filters.status }, s || "any")));
  const playbook = h("input", { name: "playbook", id: "f-playbook", value: filters.playbook, placeholder: "catalog path" });
  const since = h("input", { name: "since", id: "f-since", type: "datetime-local", value: filters.since });
  const until = h("input", { name: "until", id: "f-until", type: "datetime-local", value: filters.until });
  const form = h("form", { class: "filters", role: "search", "aria-label": "Filter executions" },
    field("f-status", "Status", status), field("f-playbook", "Playbook", playbook),
    field("f-since", "From", since), field("f-until", "To", until),
    h("button", { type: "submit" }, "Filter"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    apply({ status: status.value, playbook: playbook.value.trim(), since: since.value, until: until.value });
  });
  status.addEventListener("change", () => form.requestSubmit());
  return form;
}

function searchForm() {
  const input = h("input", { id: "find-id", name: "id", placeholder: "execution id or its start", inputmode: "numeric", autocomplete: "off" });
  const form = h("form", { class: "find", role: "search", "aria-label": "Find an execution" },
    field("find-id", "Find by id", input), h("button", { type: "submit" }, "Open"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const id = input.value.trim();
    if (!id) return;
    try {
      const found = await findExecution(id);
      if (found) location.href = `/executions/${encodeURIComponent(found)}`;
    } catch (error) {
      banner(error.message);
    }
  });
  return form;
}

const SHOWN_MATCHES = 5; // executions named when a prefix matches several

/** The id of the execution `id` names: itself, or the one execution whose id starts with it.
 * Says why on the banner (none, several) and answers null otherwise. */
async function findExecution(id) {
  try {
    await api(`/executions/${encodeURIComponent(id)}`);
    return id;
  } catch (error) {
    if (error.status !== 404) throw error;
  }
  if (!/^[0-9A-Za-z_-]{1,64}$/.test(id)) { banner(`No execution with id ${id}.`); return null; }
  const listed = await api(`/executions?${new URLSearchParams({ id_prefix: id, limit: SHOWN_MATCHES + 1 })}`);
  const matches = listed.executions;
  if (matches.length === 1) return matches[0].execution_id;
  if (!matches.length) { banner(`No execution with id ${id}, nor one whose id starts with it.`); return null; }
  const named = matches.slice(0, SHOWN_MATCHES).map((e) => e.execution_id).join(", ");
  banner(`${matches.length > SHOWN_MATCHES ? "More than " + SHOWN_MATCHES : matches.length} executions have an id starting with ${id} (${named}${matches.length > SHOWN_MATCHES ? ", …" : ""}): type more of it.`);
  return null;
}

// A label and its control, kept together when the form wraps (phone width).
function field(id, label, control) {
  return h("span", { class: "field" }, h("label", { for: id }, label), control);
}
