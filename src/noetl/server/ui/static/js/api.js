// The REST API and its Server-Sent Event streams, as the pages use them.
// The token (when the server has NOETL_API_TOKEN) is asked for once and kept in sessionStorage.
// Streams are read with fetch, not EventSource, because EventSource cannot send the token.

import { askToken } from "./token.js";

const BASE = "/api/v2";
const TOKEN = "noetl.token";

export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status; // 0: the server could not be reached
    this.body = body;
  }
}

function headers(extra) {
  const token = sessionStorage.getItem(TOKEN);
  const all = { accept: "application/json", ...extra };
  if (token) all.authorization = `Bearer ${token}`;
  return all;
}

async function authorize(wrong) {
  const token = await askToken(wrong);
  sessionStorage.setItem(TOKEN, token);
}

/** JSON of `method path` (body sent as JSON); ApiError with the server's message otherwise. */
export async function api(path, { method = "GET", body } = {}) {
  let wrong = false;
  for (;;) {
    let response;
    try {
      response = await fetch(BASE + path, {
        method,
        headers: headers(body === undefined ? {} : { "content-type": "application/json" }),
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      throw new ApiError(0, `The server at ${location.origin} is unreachable (${error.message}).`);
    }
    if (response.status === 401) {
      await authorize(wrong || Boolean(sessionStorage.getItem(TOKEN)));
      wrong = true;
      continue;
    }
    const text = await response.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { data = text; }
    if (!response.ok) {
      const message = data && data.error ? data.error.message : `${response.status} ${response.statusText}`;
      throw new ApiError(response.status, message, data);
    }
    return data;
  }
}

/**
 * Follow an SSE stream; `onMessage(event, data, id)` per message. Reconnects after a drop with
 * Last-Event-ID (the last seq received), so nothing is missed or repeated; stops on `end`.
 * `onState("live" | "reconnecting" | "ended")` tells the page. Returns `{ close() }`.
 */
export function stream(path, { lastId = null, onMessage, onState = () => {} }) {
  const control = new AbortController();
  let delay = 1000;
  let closed = false;
  const run = async () => {
    while (!closed) {
      try {
        const extra = { accept: "text/event-stream" };
        if (lastId !== null) extra["last-event-id"] = String(lastId);
        const response = await fetch(BASE + path, { headers: headers(extra), signal: control.signal });
        if (response.status === 401) { await authorize(true); continue; }
        if (!response.ok) throw new ApiError(response.status, `stream answered ${response.status}`);
        onState("live");
        delay = 1000;
        const ended = await readMessages(response.body, (event, data, id) => {
          if (id !== null) lastId = id;
          if (event === "retry") return;
          onMessage(event, data, id);
        });
        if (ended) { onState("ended"); return; }
      } catch (error) {
        if (closed) return;
      }
      onState("reconnecting");
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 15000);
    }
  };
  run();
  return { close() { closed = true; control.abort(); } };
}

async function readMessages(body, deliver) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return false;
    buffer += value;
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const message = parse(block);
      if (!message) continue;
      deliver(message.event, message.data, message.id);
      if (message.event === "end") return true;
    }
  }
}

function parse(block) {
  let event = "message", id = null;
  const data = [];
  for (const line of block.split("\n")) {
    if (line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
    else if (field === "id") id = value;
    else if (field === "retry") event = "retry";
  }
  if (!data.length && event !== "end") return event === "retry" ? { event, data: null, id } : null;
  let parsed = null;
  try { parsed = data.length ? JSON.parse(data.join("\n")) : null; } catch { parsed = data.join("\n"); }
  return { event, data: parsed, id };
}
