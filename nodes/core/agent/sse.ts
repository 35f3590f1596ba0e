/**
 * Reads a streamed HTTP body (a fetch ReadableStream) as server-sent events or NDJSON, whatever
 * the chunk boundaries: a line, a CRLF pair or a multi-byte character may be split across chunks.
 * Platform-neutral: no Node-RED, no provider knowledge; parsing the data is the caller's job
 * (`[DONE]` is not JSON).
 */

export type StreamKind = 'sse' | 'ndjson';

export interface SseEvent {
  /** The `event:` field; 'message' when the server named none. */
  event: string;
  /** The `data:` lines joined with '\n'. */
  data: string;
  id?: string;
}

/** A stream that is not what it claims to be (an event or a line beyond the size bound). */
export class StreamFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StreamFormatError';
  }
}

/** Bound on one line or one event's data, so a server that never ends a line cannot fill memory. */
export const MAX_EVENT_CHARS = 1_000_000;

/**
 * Lines of the body, split on LF, CRLF or a lone CR (the SSE rule; harmless for NDJSON). Cancels
 * the body when the consumer stops early, so the connection is released.
 */
export async function* readLines(body: ReadableStream<Uint8Array>, maxChars = MAX_EVENT_CHARS): AsyncGenerator<string> {
  const reader = body.getReader();
  const decoder = new TextDecoder('utf-8');
  let buffer = '';
  let first = true;
  let finished = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        finished = true;
        buffer += decoder.decode();
      } else {
        buffer += decoder.decode(value, { stream: true });
      }
      if (first && buffer.length) {
        if (buffer.charCodeAt(0) === 0xfeff) buffer = buffer.slice(1);
        first = false;
      }
      let start = 0;
      for (let i = 0; i < buffer.length; i++) {
        const c = buffer.charCodeAt(i);
        if (c !== 10 && c !== 13) continue;
        // A CR at the very end may be the first half of a CRLF split across chunks: wait for more.
        if (c === 13 && i === buffer.length - 1 && !done) break;
        yield buffer.slice(start, i);
        if (c === 13 && buffer.charCodeAt(i + 1) === 10) i++;
        start = i + 1;
      }
      buffer = buffer.slice(start);
      if (buffer.length > maxChars) throw new StreamFormatError(`stream line longer than ${maxChars} characters`);
      if (done) {
        if (buffer.length) yield buffer;
        return;
      }
    }
  } finally {
    if (!finished) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}

/** Server-sent events (WHATWG rules): comments skipped, multi-line data joined, retry ignored. */
export async function* readSse(body: ReadableStream<Uint8Array>, maxChars = MAX_EVENT_CHARS): AsyncGenerator<SseEvent> {
  let data: string[] = [];
  let size = 0;
  let event = '';
  let id: string | undefined;
  const dispatch = (): SseEvent | undefined => {
    const out = data.length ? { event: event || 'message', data: data.join('\n'), ...(id !== undefined ? { id } : {}) } : undefined;
    data = [];
    size = 0;
    event = '';
    return out;
  };
  for await (const line of readLines(body, maxChars)) {
    if (line === '') {
      const ev = dispatch();
      if (ev) yield ev;
      continue;
    }
    if (line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') {
      size += value.length + 1;
      if (size > maxChars) throw new StreamFormatError(`stream event larger than ${maxChars} characters`);
      data.push(value);
    } else if (field === 'event') {
      event = value;
    } else if (field === 'id' && !value.includes('\0')) {
      id = value;
    }
  }
  // The spec drops an event the stream ended in the middle of; servers that end with a single
  // newline after their last `data:` line are common enough that we keep it.
  const last = dispatch();
  if (last) yield last;
}

/**
 * The data of each event: for 'sse' the `data:` of every event (the event name is dropped), for
 * 'ndjson' every non-blank line, trimmed.
 */
export async function* readEvents(body: ReadableStream<Uint8Array>, kind: StreamKind): AsyncGenerator<string> {
  if (kind === 'sse') {
    for await (const ev of readSse(body)) yield ev.data;
    return;
  }
  for await (const line of readLines(body)) {
    const trimmed = line.trim();
    if (trimmed) yield trimmed;
  }
}
