// YAML shown with line numbers, light highlighting, and validation problems at their line.

import { h } from "./ui.js";

const TOKEN = /(#.*$)|(\{\{.*?\}\})|("(?:[^"\\]|\\.)*"|'(?:[^']|'')*')|(^\s*-?\s*[\w.$-]+(?=:(\s|$)))|(\b(?:true|false|null|\d+(?:\.\d+)?)\b)/g;
const CLASSES = ["comment", "template", "string", "key", "literal"];

function highlight(line) {
  const parts = [];
  let at = 0;
  for (const match of line.matchAll(TOKEN)) {
    if (match.index > at) parts.push(line.slice(at, match.index));
    const kind = CLASSES[match.slice(1, 6).findIndex((group) => group !== undefined)];
    parts.push(h("span", { class: `y-${kind}` }, match[0]));
    at = match.index + match[0].length;
  }
  parts.push(line.slice(at));
  return parts;
}

/** The source as an ordered list of lines; `problems` (with `line`) are shown under theirs. */
export function yamlView(source, problems = []) {
  const byLine = new Map();
  for (const problem of problems) {
    const line = problem.line ?? 1;
    if (!byLine.has(line)) byLine.set(line, []);
    byLine.get(line).push(problem);
  }
  const lines = source.replace(/\n$/, "").split("\n");
  const items = lines.map((line, index) => {
    const number = index + 1;
    const found = byLine.get(number) || [];
    return h("li", { class: found.length ? "has-problem" : "", "data-line": number },
      h("code", {}, ...highlight(line)),
      ...found.map((p) => h("div", { class: `problem-note ${p.severity || "error"}`, role: "note" },
        `${p.severity === "warning" ? "warning" : "error"}${p.col ? ` (col ${p.col})` : ""}: ${p.message}`)));
  });
  return h("ol", { class: "yaml", "aria-label": "Playbook YAML" }, ...items);
}
