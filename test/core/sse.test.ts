import assert from 'node:assert/strict';
import { MAX_EVENT_CHARS, StreamFormatError, readEvents, readLines, readSse } from '../../nodes/core/agent/sse';

/** A body delivering `parts` as separate chunks (strings are UTF-8 encoded; byte arrays as given). */
function body(parts: Array<string | Uint8Array>, onCancel?: () => void): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  let i = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (i >= parts.length) return controller.close();
      const p = parts[i++];
      controller.enqueue(typeof p === 'string' ? enc.encode(p) : p);
    },
    cancel() {
      onCancel?.();
    },
  });
}

/** Every way of cutting `text` into two chunks, plus one byte at a time. */
function splits(text: string): Array<Uint8Array[]> {
  const bytes = new TextEncoder().encode(text);
  const out: Array<Uint8Array[]> = [];
  for (let i = 0; i <= bytes.length; i++) out.push([bytes.slice(0, i), bytes.slice(i)]);
  out.push(Array.from(bytes, (b) => Uint8Array.of(b)));
  return out;
}

async function collect<T>(gen: AsyncGenerator<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of gen) out.push(x);
  return out;
}

describe('core/agent/sse', () => {
  it('yields the data of each event, whatever the chunk boundaries', async () => {
    const text = 'data: {"delta":"héllo"}\n\ndata: {"delta":" wörld 👋"}\n\ndata: [DONE]\n\n';
    for (const parts of splits(text)) {
      assert.deepEqual(await collect(readEvents(body(parts), 'sse')), ['{"delta":"héllo"}', '{"delta":" wörld 👋"}', '[DONE]']);
    }
  });

  it('handles CRLF and lone CR line endings, also when a CRLF is split', async () => {
    const text = 'data: a\r\n\r\ndata: b\r\rdata: c\n\n';
    for (const parts of splits(text)) {
      assert.deepEqual(await collect(readEvents(body(parts), 'sse')), ['a', 'b', 'c']);
    }
  });

  it('skips comments, joins multi-line data, keeps event names and ids, ignores unknown fields', async () => {
    const text = ': keep-alive\n\nevent: update\nid: 7\ndata: line one\ndata:line two\nretry: 100\nfoo: bar\n\ndata\n\n';
    const events = await collect(readSse(body([text])));
    assert.deepEqual(events, [
      { event: 'update', data: 'line one\nline two', id: '7' },
      // A bare `data` line is an empty data field; the last id carries on (WHATWG rules).
      { event: 'message', data: '', id: '7' },
    ]);
  });

  it('strips a leading byte order mark and keeps an unterminated last event', async () => {
    assert.deepEqual(await collect(readEvents(body(['\ufeffdata: x\n\ndata: y']), 'sse')), ['x', 'y']);
  });

  it('reads NDJSON lines, skipping blank ones, with a last line lacking its newline', async () => {
    const text = '{"delta":"a"}\n\n{"delta":"b"}\r\n  {"done":true}  ';
    for (const parts of splits(text)) {
      assert.deepEqual(await collect(readEvents(body(parts), 'ndjson')), ['{"delta":"a"}', '{"delta":"b"}', '{"done":true}']);
    }
  });

  it('refuses a line beyond the size bound instead of buffering forever', async () => {
    const big = 'x'.repeat(1000);
    await assert.rejects(collect(readLines(body(['data: ', big, big]), 1500)), StreamFormatError);
    await assert.rejects(collect(readSse(body([`data: ${big}\ndata: ${big}\n\n`]), 1500)), StreamFormatError);
    assert.ok(MAX_EVENT_CHARS >= 1_000_000);
  });

  it('cancels the body when the reader stops early', async () => {
    let cancelled = false;
    const stream = body(['data: 1\n\n', 'data: 2\n\n', 'data: 3\n\n'], () => (cancelled = true));
    for await (const data of readEvents(stream, 'sse')) {
      if (data === '1') break;
    }
    assert.equal(cancelled, true);
  });
});
