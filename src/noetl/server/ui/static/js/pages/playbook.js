// One playbook version: versions, YAML with problems at their line, graph, start form.

import { api } from "../api.js";
import { drawGraph } from "../graph.js";
import { payloadForm } from "../start.js";
import { failed, fmtTime, h, show } from "../ui.js";
import { yamlView } from "../yaml.js";

export default async function playbookPage(path) {
  const asked = new URLSearchParams(location.search).get("version");
  let entry, latest;
  try {
    latest = await api(`/catalog/${path}`);
    entry = asked ? await api(`/catalog/${path}?version=${encodeURIComponent(asked)}`) : latest;
  } catch (error) {
    return failed(error, "playbook");
  }
  const check = await api("/playbooks/check", { method: "POST", body: { content: entry.content, file: `${entry.path}@v${entry.version}` } });
  const versions = h("nav", { class: "versions", "aria-label": "Versions" }, "Versions: ",
    ...Array.from({ length: latest.version }, (_, i) => latest.version - i).map((v) =>
      h("a", { href: `/playbooks/${path}?version=${v}`, "aria-current": v === entry.version ? "page" : null }, `v${v}`)));
  const start = check.valid
    ? payloadForm(check.workload, "Start execution", async (payload) => {
      const started = await api("/executions", { method: "POST", body: { path: entry.path, version: entry.version, payload } });
      location.href = `/executions/${started.execution_id}`;
    })
    : h("p", { class: "notice" }, "This version does not validate, so it cannot be started.");
  const problems = check.problems.length
    ? h("div", { class: check.valid ? "notice" : "error-box", id: "problems" },
      h("h2", {}, check.valid ? "Warnings" : "This playbook no longer validates"),
      h("ul", {}, ...check.problems.map((p) => h("li", {}, h("a", { href: `#line-${p.line ?? 1}` }, `line ${p.line ?? "?"}`), `: ${p.message}`))))
    : null;
  const yaml = yamlView(entry.content, check.problems);
  for (const item of yaml.children) item.id = `line-${item.dataset.line}`;
  show(
    h("div", { class: "title" }, h("h1", {}, entry.path), h("span", { class: "muted" }, `${entry.name} · v${entry.version} · registered ${fmtTime(entry.created_at)}`)),
    versions, problems,
    h("div", { class: "split" },
      h("section", { class: "source", "aria-label": "Source" }, h("h2", {}, "YAML"), yaml),
      h("section", { "aria-label": "Start" }, h("h2", {}, "Start"), start)),
    h("section", { "aria-label": "Graph" }, h("h2", {}, "Graph"),
      check.valid ? h("div", { class: "graph-box" }, drawGraph(check.graph, null)) : h("p", { class: "muted" }, "No graph: the playbook does not validate.")));
}
