// Workers: pools, workers, slots busy/total, heartbeat, running commands.

import { api } from "../api.js";
import { badge, failed, fmtTime, h, show } from "../ui.js";

export default async function workersPage() {
  let workers = [];
  let note = null;
  try {
    workers = (await api("/workers")).workers;
  } catch (error) {
    if (error.status !== 404) return failed(error, "workers");
    note = "This server keeps no worker registry (GET /api/v2/workers is not there), so no workers can be listed.";
  }
  const pools = new Map();
  for (const w of workers) {
    if (!pools.has(w.pool)) pools.set(w.pool, []);
    pools.get(w.pool).push(w);
  }
  const sections = [...pools].map(([pool, members]) => {
    const busy = members.reduce((n, w) => n + w.busy, 0), slots = members.reduce((n, w) => n + w.slots, 0);
    return h("section", { class: "pool" }, h("h2", {}, `Pool ${pool}`, h("span", { class: "muted" }, ` · ${busy}/${slots} slots busy · ${members.length} worker(s)`)),
      h("div", { class: "scroll" }, h("table", { class: "list" },
        h("thead", {}, h("tr", {}, ...["Worker", "Status", "Slots", "Last heartbeat", "Running", "Version", "Started"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, ...members.map((w) => h("tr", {},
          h("td", { class: "mono" }, w.worker_id), h("td", {}, badge(w.status)), h("td", {}, `${w.busy}/${w.slots}`),
          h("td", {}, fmtTime(w.last_heartbeat)), h("td", { class: "mono" }, (w.running || []).join(", ") || "—"),
          h("td", {}, w.version), h("td", {}, fmtTime(w.started_at))))))));
  });
  show(h("h1", {}, "Workers"), note ? h("p", { class: "notice" }, note) : null,
    !note && !sections.length ? h("p", { class: "empty" }, "No workers have registered.") : null, ...sections);
}
