// Small DOM helpers shared by the pages: building elements, formatting, messages.

/** `h("a", {href: "/"}, "text", child)`: an element; `on*` attributes become listeners. */
export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) element.addEventListener(key.slice(2), value);
    else if (key === "class") element.className = value;
    else if (key === "text") element.textContent = visible(String(value));
    else element.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(visible(String(child))));
  }
  return element;
}

// Bidi embedding, override and isolate controls reorder the text after them, up to the end of
// its paragraph: text from the log (an error message, a result, a step name) could make the page
// show what it does not say, the words NoETL adds included ("evil (line 1)" drawn as
// "(1 enil) live"). Every text the pages draw shows them as visible code points instead.
const BIDI_CONTROLS = /[\u202A-\u202E\u2066-\u2069]/g;

/** `text` with bidi controls written out (`<U+202E>`), so they reorder nothing. */
export function visible(text) {
  return text.replace(BIDI_CONTROLS, (c) => `<U+${c.codePointAt(0).toString(16).toUpperCase()}>`);
}

export const main = () => document.getElementById("main");

/** What may be appended: nothing for null, undefined and false (not the text "null"). */
export function present(children) {
  return children.flat(Infinity).filter((child) => child !== null && child !== undefined && child !== false);
}

/** Replace the page's content. */
export function show(...children) {
  main().replaceChildren(...present(children));
}

export function fmtTime(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return date.toLocaleString(undefined, { dateStyle: "short", timeStyle: "medium" });
}

/** A log time to the millisecond (events of one step are often within a second). */
export function fmtPrecise(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  const time = date.toLocaleTimeString(undefined, { hour12: false });
  return `${date.toLocaleDateString()} ${time}.${String(date.getMilliseconds()).padStart(3, "0")}`;
}

export function duration(start, end) {
  if (!start) return "";
  const ms = (end ? new Date(end) : new Date()) - new Date(start);
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 3600000) return `${Math.floor(ms / 60000)} m ${Math.round((ms % 60000) / 1000)} s`;
  return `${Math.floor(ms / 3600000)} h ${Math.round((ms % 3600000) / 60000)} m`;
}

/** A duration that keeps counting while `end` is not known (one timer for the page; it
 * only updates text, it asks the server nothing). */
export function liveDuration(start, end) {
  const element = h("span", { class: "duration" }, duration(start, end));
  if (start && !end) {
    element.dataset.start = start;
    ticking ??= setInterval(() => {
      for (const span of document.querySelectorAll("span.duration[data-start]")) {
        span.textContent = duration(span.dataset.start, null);
      }
    }, 1000);
  }
  return element;
}
let ticking = null;

export function badge(status) {
  return h("span", { class: `badge s-${status}` }, status);
}

export function shortId(id) {
  return id && id.length > 12 ? `…${id.slice(-8)}` : id;
}

/** A page-wide message; `kind` is "error" or "info"; null clears it. */
export function banner(message, kind = "error") {
  const target = document.getElementById("banner");
  target.replaceChildren();
  if (message) target.append(h("div", { class: `banner ${kind}` }, message));
}

/** The whole page as an error: what went wrong and what to do. */
export function errorPage(title, detail, ...more) {
  show(h("section", { class: "error-page" }, h("h1", {}, title), h("p", {}, detail), ...more));
}

/** A page-level failure from the API, shown the way each kind needs. */
export function failed(error, what) {
  if (error.status === 0) {
    errorPage("Server unreachable", error.message, h("p", {}, "Check that the server is running, then reload."));
  } else if (error.status === 404) {
    errorPage(`Unknown ${what}`, error.message, h("p", {}, h("a", { href: "/" }, "Back to executions")));
  } else {
    errorPage(`Could not load the ${what}`, error.message);
  }
}

/** Pretty JSON in a <pre>. */
export function jsonView(value) {
  return h("pre", { class: "json" }, JSON.stringify(value, null, 2));
}

/** The connection state in the header: live, reconnecting, ended. */
export function connection(state) {
  const target = document.getElementById("conn");
  const text = { live: "● live", reconnecting: "reconnecting…", ended: "" }[state] ?? "";
  target.textContent = text;
  target.className = `conn ${state}`;
}

/** A result as shown: inline JSON, or a download link when it was stored by reference. */
export function resultView(result) {
  if (result && typeof result === "object" && result.key && result.sha256 && result.store) {
    return h("p", {}, "Stored by reference (", String(result.size), " bytes): ",
      h("a", { href: `/api/v2/results/${result.key}`, download: "" }, "download"));
  }
  return jsonView(result);
}

/** Tabs with keyboard support (arrow keys move between them). */
export function tabs(entries, onSelect) {
  const list = h("div", { class: "tabs", role: "tablist" });
  const buttons = entries.map(([key, label], index) =>
    h("button", {
      role: "tab", id: `tab-${key}`, "aria-selected": index === 0 ? "true" : "false",
      tabindex: index === 0 ? "0" : "-1", onclick: () => select(key),
    }, label));
  function select(key) {
    for (const button of buttons) {
      const on = button.id === `tab-${key}`;
      button.setAttribute("aria-selected", String(on));
      button.tabIndex = on ? 0 : -1;
      if (on) button.focus({ preventScroll: true });
    }
    onSelect(key);
  }
  list.addEventListener("keydown", (event) => {
    const at = buttons.indexOf(document.activeElement);
    if (at < 0) return;
    const step = event.key === "ArrowRight" ? 1 : event.key === "ArrowLeft" ? -1 : 0;
    if (!step) return;
    event.preventDefault();
    select(entries[(at + step + entries.length) % entries.length][0]);
  });
  list.append(...buttons);
  return { element: list, select };
}
