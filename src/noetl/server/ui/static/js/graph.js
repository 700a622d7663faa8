// The playbook graph as SVG: nodes where the server's layered layout put them, arcs with their
// guards, node colours by state. `update` recolours in place (no re-layout on live updates).

import { visible } from "./ui.js";

const SVG = "http://www.w3.org/2000/svg";
const PAD = 24;

function s(tag, attrs = {}, ...children) {
  const element = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== null && value !== undefined) element.setAttribute(key, value);
  }
  element.append(...children.map((child) => (typeof child === "string" ? visible(child) : child)));
  return element;
}

function clip(text, size) {
  return text.length > size ? `${text.slice(0, size - 1)}…` : text;
}

/** An <svg> of `graph` (from POST /playbooks/check); `onSelect(stepName)` on click or Enter. */
export function drawGraph(graph, onSelect) {
  const { width: w, height: nh } = graph.node;
  const where = new Map(graph.nodes.map((node) => [node.id, node]));
  const svg = s("svg", {
    class: "graph", role: "group", "aria-label": "Playbook graph",
    viewBox: `0 0 ${graph.width + 2 * PAD + 120} ${graph.height + 2 * PAD}`,
    width: graph.width + 2 * PAD + 120, height: graph.height + 2 * PAD,
  });
  svg.append(s("defs", {}, s("marker", {
    id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 9, markerHeight: 9, markerUnits: "userSpaceOnUse",
    orient: "auto-start-reverse",
  }, s("path", { d: "M0,0 L10,5 L0,10 z", class: "arrowhead" }))));
  const edges = s("g", { class: "edges" });
  for (const edge of graph.edges) edges.append(drawEdge(edge, where, w, nh));
  const nodes = s("g", { class: "nodes" });
  for (const node of graph.nodes) nodes.append(drawNode(node, w, nh, onSelect));
  svg.append(edges, nodes);
  return svg;
}

function drawEdge(edge, where, w, nh) {
  const a = where.get(edge.from), b = where.get(edge.to);
  const x1 = a.x + PAD + w / 2, y1 = a.y + PAD + nh;
  const x2 = b.x + PAD + w / 2, y2 = b.y + PAD;
  let d;
  if (edge.back) { // around the right side, back up to the target
    const side = Math.max(a.x, b.x) + PAD + w + 40;
    d = `M${a.x + PAD + w},${a.y + PAD + nh / 2} C${side},${a.y + PAD + nh / 2} ${side},${b.y + PAD + nh / 2} ${b.x + PAD + w},${b.y + PAD + nh / 2}`;
  } else {
    const mid = (y1 + y2) / 2;
    d = `M${x1},${y1} C${x1},${mid} ${x2},${mid} ${x2},${y2}`;
  }
  const group = s("g", { class: edge.when ? "edge guarded" : "edge", "data-from": edge.from, "data-to": edge.to });
  group.append(s("path", { d, "marker-end": "url(#arrow)" }));
  if (edge.when) {
    const label = s("text", { x: (x1 + x2) / 2 + 6, y: (y1 + y2) / 2 + 4, class: "guard" }, clip(edge.when, 28));
    label.append(s("title", {}, `when ${edge.when}`));
    group.append(label);
  }
  return group;
}

function drawNode(node, w, nh, onSelect) {
  const x = node.x + PAD, y = node.y + PAD;
  const kinds = node.kinds.length ? node.kinds.join(" → ") : "route";
  const extra = [node.loop ? `loop (${node.loop.mode})` : null, node.fan_in > 1 ? `join ${node.join}` : null];
  const group = s("g", {
    class: "node s-pending", tabindex: 0, role: "button", "data-step": node.id,
    "aria-label": `step ${node.id}, pending`,
  });
  group.append(
    s("rect", { x, y, width: w, height: nh, rx: 8 }),
    s("text", { x: x + 10, y: y + 21, class: "name" }, clip(node.id, 22)),
    s("text", { x: x + 10, y: y + 40, class: "sub" }, clip([kinds, ...extra].filter(Boolean).join(" · "), 28)),
    s("text", { x: x + w - 10, y: y + 21, class: "count", "text-anchor": "end" }),
    s("title", {}, [node.id, node.desc, node.when ? `runs when ${node.when}` : ""].filter(Boolean).join("\n")),
  );
  const choose = () => onSelect && onSelect(node.id);
  group.addEventListener("click", choose);
  group.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") { event.preventDefault(); choose(); }
  });
  return group;
}

/** Recolour nodes from `steps` (GET /executions/{id}/steps): state class and loop counts. */
export function updateGraph(svg, steps) {
  for (const group of svg.querySelectorAll("g.node")) {
    const name = group.dataset.step;
    const step = steps[name];
    const state = step ? step.state : "pending";
    group.setAttribute("class", `node s-${state}${group.classList.contains("selected") ? " selected" : ""}`);
    const run = step && step.runs.length ? step.runs[step.runs.length - 1] : null;
    const count = group.querySelector("text.count");
    let text = "";
    if (run && run.loop) text = `${run.loop.done}/${run.loop.total}${run.loop.failed ? ` ✗${run.loop.failed}` : ""}`;
    else if (step && step.run_count > 1) text = `×${step.run_count}`;
    count.textContent = text;
    group.setAttribute("aria-label", `step ${name}, ${state}${text ? `, ${text}` : ""}`);
  }
  markTaken(svg, steps);
}

/** Mark the arcs a token went along (both ends have run) so the path taken stands out. */
function markTaken(svg, steps) {
  for (const edge of svg.querySelectorAll("g.edge")) {
    const from = steps[edge.dataset.from], to = steps[edge.dataset.to];
    edge.classList.toggle("taken", Boolean(from && to && from.state !== "pending" && to.runs.length));
  }
}

/** Mark `name` as the selected node. */
export function selectNode(svg, name) {
  for (const group of svg.querySelectorAll("g.node")) {
    group.classList.toggle("selected", group.dataset.step === name);
  }
}
