// Playbooks: the catalog, latest version of each path.

import { api } from "../api.js";
import { failed, fmtTime, h, show } from "../ui.js";

export default async function playbooksPage() {
  let entries;
  try {
    entries = await api("/catalog");
  } catch (error) {
    return failed(error, "catalog");
  }
  const rows = entries.map((e) => h("tr", {},
    h("td", {}, h("a", { href: `/playbooks/${e.path}` }, e.path)),
    h("td", {}, e.name),
    h("td", {}, `v${e.version}`, e.version > 1 ? h("span", { class: "muted" }, ` (${e.version} versions)`) : ""),
    h("td", {}, fmtTime(e.created_at)),
    h("td", {}, h("a", { href: `/?playbook=${encodeURIComponent(e.path)}` }, "executions"))));
  if (!rows.length) rows.push(h("tr", {}, h("td", { colspan: 5, class: "empty" }, "The catalog is empty: register one with `noetl catalog register FILE`.")));
  show(h("h1", {}, "Playbooks"),
    h("div", { class: "scroll" }, h("table", { class: "list", "aria-label": "Playbooks" },
      h("thead", {}, h("tr", {}, ...["Path", "Name", "Latest", "Registered", ""].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, ...rows))));
}
