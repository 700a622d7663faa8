// Playbooks: the catalog, latest version of each path, a page at a time (by path).

import { api } from "../api.js";
import { failed, fmtTime, h, show } from "../ui.js";

const LIMIT = 100;

export default async function playbooksPage() {
  const body = h("tbody");
  const next = h("button", { type: "button", onclick: () => load(offset + LIMIT) }, "Next →");
  const previous = h("button", { type: "button", onclick: () => load(Math.max(0, offset - LIMIT)) }, "← Previous");
  const info = h("span", { class: "muted", "aria-live": "polite" });
  let offset = 0;

  async function load(from) {
    let entries;
    try {
      entries = await api(`/catalog?${new URLSearchParams({ limit: LIMIT, offset: from })}`);
    } catch (error) {
      return failed(error, "catalog");
    }
    offset = from;
    const rows = entries.map((e) => h("tr", {},
      h("td", {}, h("a", { href: `/playbooks/${e.path}` }, e.path)),
      h("td", {}, e.name),
      h("td", {}, `v${e.version}`, e.version > 1 ? h("span", { class: "muted" }, ` (${e.version} versions)`) : ""),
      h("td", {}, fmtTime(e.created_at)),
      h("td", {}, h("a", { href: `/?playbook=${encodeURIComponent(e.path)}` }, "executions"))));
    if (!rows.length && !offset) rows.push(h("tr", {}, h("td", { colspan: 5, class: "empty" }, "The catalog is empty: register one with `noetl catalog register FILE`.")));
    body.replaceChildren(...rows);
    next.disabled = entries.length < LIMIT; // a short page is the last
    previous.disabled = offset === 0;
    info.textContent = `page ${offset / LIMIT + 1}`;
  }

  show(h("h1", {}, "Playbooks"),
    h("div", { class: "scroll" }, h("table", { class: "list", "aria-label": "Playbooks" },
      h("thead", {}, h("tr", {}, ...["Path", "Name", "Latest", "Registered", ""].map((t) => h("th", { scope: "col" }, t)))),
      body)),
    h("div", { class: "pager" }, previous, info, next));
  await load(0);
}
