// Credentials: names, kinds and dates; never values (the API never lists them).

import { api } from "../api.js";
import { failed, fmtTime, h, show } from "../ui.js";

export default async function credentialsPage() {
  let entries;
  try {
    entries = await api("/credentials");
  } catch (error) {
    return failed(error, "credentials");
  }
  const rows = entries.map((c) => h("tr", {}, h("td", { class: "mono" }, c.name), h("td", {}, c.type), h("td", {}, fmtTime(c.created_at)), h("td", {}, fmtTime(c.updated_at))));
  if (!rows.length) rows.push(h("tr", {}, h("td", { colspan: 4, class: "empty" }, "No credentials: add one with `noetl credentials set NAME`.")));
  show(h("h1", {}, "Credentials"), h("p", { class: "muted" }, "Values are encrypted on the server and never shown here."),
    h("div", { class: "scroll" }, h("table", { class: "list", "aria-label": "Credentials" },
      h("thead", {}, h("tr", {}, ...["Name", "Kind", "Created", "Updated"].map((t) => h("th", { scope: "col" }, t)))), h("tbody", {}, ...rows))));
}
