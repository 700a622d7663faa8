// The payload editor: JSON checked in the browser before anything is sent.

import { h } from "./ui.js";

/** The payload text as an object, or the reason it is not one (what the form shows). */
export function parsePayload(text) {
  let value;
  try {
    value = JSON.parse(text.trim() || "{}");
  } catch (error) {
    return { error: `payload: not valid JSON (${error.message})` };
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return { error: "payload: must be a JSON object ({\"name\": value, ...})" };
  }
  return { value };
}

/** A form with a payload textarea; `submit(payload)` runs on a valid payload (may throw). */
export function payloadForm(initial, label, submit) {
  const area = h("textarea", { id: "payload", name: "payload", rows: 10, spellcheck: "false", "aria-describedby": "payload-problem" }, JSON.stringify(initial ?? {}, null, 2));
  const problem = h("p", { id: "payload-problem", class: "problem", role: "alert" });
  const button = h("button", { type: "submit", class: "primary" }, label);
  const form = h("form", { class: "start" }, h("label", { for: "payload" }, "Payload (a JSON object)"), area, problem, button);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const parsed = parsePayload(area.value);
    problem.textContent = parsed.error || "";
    area.setAttribute("aria-invalid", parsed.error ? "true" : "false");
    if (parsed.error) return;
    button.disabled = true;
    try {
      await submit(parsed.value);
    } catch (error) {
      problem.textContent = `Refused by the server: ${error.message}`;
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

/** The payload form in a modal dialog. */
export function payloadDialog(title, initial, submit) {
  const dialog = h("dialog", { class: "payload-dialog", "aria-label": title });
  const close = h("button", { type: "button", onclick: () => { dialog.close(); dialog.remove(); } }, "Close");
  dialog.append(h("h2", {}, title), payloadForm(initial, "Start", submit), close);
  document.body.append(dialog);
  dialog.showModal();
}
