// Server-sent events over fetch(): EventSource cannot send an Authorization header, so the
// stream is read with response.body.getReader() and parsed here (the WHATWG rules: lines
// end in \n, \r\n or \r; a blank line ends an event; "field: value"; ":" starts a comment).

import { apiFetch } from "./api.js";

export class SseParser {
  constructor(onEvent) {
    this.onEvent = onEvent;
    this.buffer = "";
    this.reset();
    this.lastEventId = null;
  }

  reset() {
    this.eventType = "";
    this.data = [];
  }

  push(text) {
    this.buffer += text;
    let start = 0;
    for (let i = 0; i < this.buffer.length; i++) {
      const ch = this.buffer[i];
      if (ch !== "\n" && ch !== "\r") continue;
      // A \r at the very end may be the first half of \r\n: wait for the next chunk.
      if (ch === "\r" && i === this.buffer.length - 1) break;
      this.line(this.buffer.slice(start, i));
      if (ch === "\r" && this.buffer[i + 1] === "\n") i++;
      start = i + 1;
    }
    this.buffer = this.buffer.slice(start);
  }

  line(line) {
    if (line === "") {
      if (this.data.length) {
        this.onEvent({ type: this.eventType || "message", data: this.data.join("\n"), id: this.lastEventId });
      }
      this.reset();
      return;
    }
    if (line.startsWith(":")) return; // a keep-alive comment
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") this.eventType = value;
    else if (field === "data") this.data.push(value);
    else if (field === "id" && !value.includes("\0")) this.lastEventId = value;
  }
}

// Read one SSE stream until it ends or `signal` aborts. Calls onEvent({type, data, id}) for
// each event. Resolves when the server ends the stream; rejects with ApiError on a non-2xx
// answer or a broken connection.
export async function readEventStream(path, { onEvent, signal, lastEventId }) {
  const headers = { Accept: "text/event-stream", "Cache-Control": "no-cache" };
  if (lastEventId) headers["Last-Event-ID"] = lastEventId;
  const response = await apiFetch(path, { headers, signal });
  const parser = new SseParser(onEvent);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      parser.push(value);
    }
    // As the standard says, an event not ended by a blank line when the stream ends is dropped.
  } finally {
    reader.releaseLock();
  }
  return parser.lastEventId;
}
