/**
 * Shared by the hostile-input suites (test/hostile): raw HTTP requests whose bytes, pace and end
 * the test decides (slow, cut off half way, with a lying Content-Length), a heap reading after a
 * real GC, and the generators of hostile values (prototype keys, lone surrogates, invalid UTF-8,
 * deep nesting, huge strings, wrong types) every suite draws from.
 */
import * as http from 'node:http';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import fc from 'fast-check';

export type Json = Record<string, unknown>;

/** Sets an own enumerable property, even `__proto__` (plain assignment would set the prototype instead). */
export function put(o: object, key: string, value: unknown): void {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Keys that mean something to JavaScript objects; a parser or a spread that honours them is polluted. */
export const PROTO_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', '__defineGetter__'] as const;

/** Strings that are valid JSON strings but break naive text handling. */
export const NASTY_TEXT = [
  '\ud800', // a lone high surrogate
  '\udfff', // a lone low surrogate
  'a\udc00b\ud83d', // both, out of order
  '\u0000nul', // NUL
  '\u202eevil', // right-to-left override
  '\ufeffbom', // a byte order mark inside
  '😀'.repeat(3),
  '<script>alert(1)</script>',
  '${process.exit()}',
  '%s%n%x',
  '\r\n\r\nHTTP/1.1 200 OK',
] as const;

/**
 * Byte sequences that are not UTF-8: overlong encodings of '/' and NUL, an encoded surrogate, lone
 * continuation and start bytes, bytes that never occur, a sequence cut short.
 */
export const INVALID_UTF8: readonly Buffer[] = [
  Buffer.from([0xc0, 0xaf]),
  Buffer.from([0xe0, 0x80, 0xaf]),
  Buffer.from([0xf0, 0x80, 0x80, 0xaf]),
  Buffer.from([0xc0, 0x80]),
  Buffer.from([0xed, 0xa0, 0x80]),
  Buffer.from([0x80, 0x81]),
  Buffer.from([0xfe, 0xff]),
  Buffer.from([0xe2, 0x82]),
  Buffer.from([0xf4, 0x90, 0x80, 0x80]),
];

/** A string with nasty characters (valid as a JSON string). */
export const nastyString: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...NASTY_TEXT),
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.string({ unit: fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 4 }),
);

/** A value of some type, for a field that expects another one. */
export const wrongType: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
);

/** JSON text nested `depth` levels deep (arrays or objects). */
export function deepJson(depth: number, kind: 'array' | 'object' = 'array'): string {
  return kind === 'array' ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
}

/**
 * A value that `toJson` writes as arrays nested `depth` deep. Deep values are written as text:
 * JSON.stringify of a deep object overflows the stack long before a parser would.
 */
export function deep(depth: number): string {
  return `@@deep:${depth}@@`;
}

/** JSON.stringify, with every `deep(n)` value written nested n deep. */
export function toJson(value: unknown): string {
  return JSON.stringify(value).replace(/"@@deep:(\d+)@@"/g, (_m, d: string) => deepJson(Number(d)));
}

/** Extra keys for a JSON body: prototype names and unknown fields, with junk, deep or big values. */
export const noiseEntries: fc.Arbitrary<Array<[string, unknown]>> = fc.array(
  fc.tuple(
    fc.oneof(fc.constantFrom(...PROTO_KEYS), fc.string({ maxLength: 8 })),
    fc.oneof(
      fc.jsonValue({ maxDepth: 3 }),
      fc.constant({ polluted: true, isAdmin: true }),
      fc.integer({ min: 1, max: 20_000 }).map((n) => 'y'.repeat(n)),
      fc.integer({ min: 100, max: 20_000 }).map(deep),
    ),
  ),
  { maxLength: 4 },
);

/** Adds the noise entries to `o` as own properties (so `__proto__` is a key, as in a parsed JSON body). */
export function withNoise<T extends object>(o: T, noise: Array<[string, unknown]>): T {
  for (const [k, v] of noise) put(o, k, v);
  return o;
}

// ---------------------------------------------------------------------------------------------
// raw requests
// ---------------------------------------------------------------------------------------------

export type Transport =
  /** The body in one write. */
  | { kind: 'whole' }
  /** The body in `parts` writes, `gapMs` apart. */
  | { kind: 'slow'; parts: number; gapMs: number }
  /** Half the body (Content-Length says all of it), then the socket is destroyed. */
  | { kind: 'abort' }
  /** Content-Length says more than is sent; the request is ended (the server waits, the client gives up). */
  | { kind: 'short' }
  /** No Content-Length: chunked transfer encoding, several chunks. */
  | { kind: 'chunked' };

export interface RawAnswer {
  /** The HTTP status, or undefined when no answer came (the socket was given up or closed). */
  status?: number;
  body: string;
  headers: http.IncomingHttpHeaders;
  ms: number;
  /** The server closed the connection while the body was still being sent, without an answer. */
  reset?: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * POSTs `body` to `url` the way `transport` says, and resolves with the answer. Never hangs: after
 * `timeoutMs` without an answer the request is destroyed and the promise REJECTS (a hang is a
 * failure), except for `abort` and `short`, which resolve without a status once the socket is gone
 * (`short` gives up after `giveUpMs`).
 */
export function rawPost(url: string, body: Buffer | string, headers: Record<string, string>, transport: Transport = { kind: 'whole' }, timeoutMs = 5000, giveUpMs = 100): Promise<RawAnswer> {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
  const started = Date.now();
  const h: Record<string, string> = { ...headers };
  if (transport.kind !== 'chunked') h['content-length'] = String(transport.kind === 'short' ? bytes.length + 10 : bytes.length);
  return new Promise<RawAnswer>((resolve, reject) => {
    let finished = false;
    const finish = (fn: () => void) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      fn();
    };
    const req = http.request(url, { method: 'POST', headers: h, agent: false });
    const gaveUp = () => finish(() => resolve({ status: undefined, body: '', headers: {}, ms: Date.now() - started }));
    const timer = setTimeout(() => {
      req.destroy();
      if (transport.kind === 'short') gaveUp();
      else finish(() => reject(new Error(`no answer within ${timeoutMs} ms (${transport.kind})`)));
    }, transport.kind === 'short' ? giveUpMs : timeoutMs);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => finish(() => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8'), headers: res.headers, ms: Date.now() - started })));
      res.on('error', () => gaveUp());
    });
    req.on('error', (err) => {
      if (transport.kind === 'abort' || transport.kind === 'short') return gaveUp();
      // The server may answer (413) and close before the whole body is written: that answer counts
      // when it arrives; a connection closed under the body without one is reported as such.
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EPIPE' || code === 'ECONNRESET') {
        setTimeout(() => finish(() => resolve({ status: undefined, body: '', headers: {}, ms: Date.now() - started, reset: true })), 50);
        return;
      }
      finish(() => reject(err));
    });
    void (async () => {
      try {
        if (transport.kind === 'whole') return void req.end(bytes);
        if (transport.kind === 'short') return void req.write(bytes);
        if (transport.kind === 'abort') {
          req.write(bytes.subarray(0, Math.floor(bytes.length / 2)));
          await sleep(5);
          req.destroy();
          return gaveUp();
        }
        const parts = transport.kind === 'slow' ? transport.parts : 3;
        const gap = transport.kind === 'slow' ? transport.gapMs : 1;
        const size = Math.ceil(bytes.length / parts) || 1;
        for (let i = 0; i < bytes.length; i += size) {
          if (finished || req.destroyed) return;
          req.write(bytes.subarray(i, i + size));
          await sleep(gap);
        }
        req.end();
      } catch {
        // the socket went away; the answer (or the timeout) decides
      }
    })();
  });
}

export const transport: fc.Arbitrary<Transport> = fc.oneof(
  { weight: 6, arbitrary: fc.constant<Transport>({ kind: 'whole' }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('slow' as const), parts: fc.integer({ min: 2, max: 4 }), gapMs: fc.integer({ min: 5, max: 25 }) }) },
  { weight: 1, arbitrary: fc.constant<Transport>({ kind: 'chunked' }) },
);

/** Resolves once `check()` holds, looking again on every turn of the event loop; rejects after `ms`. */
export async function eventually(check: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}

// ---------------------------------------------------------------------------------------------
// memory
// ---------------------------------------------------------------------------------------------

let gcFn: (() => void) | undefined;

/** Heap in use after a full GC, in MB (mocha runs without --expose-gc; V8 can switch it on late). */
export async function heapAfterGc(): Promise<number> {
  if (!gcFn) {
    v8.setFlagsFromString('--expose-gc');
    gcFn = vm.runInNewContext('gc') as () => void;
  }
  for (let i = 0; i < 3; i++) {
    gcFn();
    await sleep(10);
  }
  return process.memoryUsage().heapUsed / (1024 * 1024);
}

/** Fails when the heap grew more than `marginMb` since `beforeMb`. */
export async function assertHeapBounded(beforeMb: number, marginMb: number, what: string): Promise<void> {
  const after = await heapAfterGc();
  if (after - beforeMb > marginMb) throw new Error(`${what}: the heap grew ${(after - beforeMb).toFixed(1)} MB (from ${beforeMb.toFixed(1)} MB to ${after.toFixed(1)} MB; margin ${marginMb} MB)`);
}

/** A 5xx (or anything outside 2xx-4xx) is a failure whatever the input was. */
export function assertNo5xx(status: number | undefined, what: string): void {
  if (status !== undefined && (status < 200 || status >= 500)) throw new Error(`${what}: answered ${status}`);
}
