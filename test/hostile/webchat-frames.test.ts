/**
 * The web chat WebSocket against generated hostile frames, in the real Node-RED runtime: JSON that
 * is malformed or truncated, frames of the wrong types, prototype keys, lone surrogates, invalid
 * UTF-8 in a text frame, binary frames, frames over the size limit, bad user ids in the URL; then
 * floods (the rate limit), junk that never stops on one socket, and sockets that open and close
 * as fast as they can. A valid frame is acknowledged and reaches the flow once; anything else gets
 * an error frame (or, for what the WebSocket protocol itself forbids, a close with its code) and
 * reaches nothing. Nothing crashes, the heap stays bounded, and the next visitor is served.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import WebSocket from 'ws';
import { catalogTranslator, collect, getNode, helper, nodeModules, sleep, unload, useUserDir, type AnyRED } from '../helpers/red';
import { useHttpServer } from '../helpers/discord';
import { until } from '../helpers/telegram';
import { assertHeapBounded, deep, heapAfterGc, INVALID_UTF8, nastyString, noiseEntries, put, toJson, withNoise, wrongType, type Json } from '../helpers/hostile';

type Frame = Record<string, unknown> & { type: string };

const WS = '/hc/ws';
const translate = catalogTranslator('webchat', 'webchat-');

/** A visitor's socket and everything the server said on it, up to its close. */
class Socket {
  readonly frames: Frame[] = [];
  closed: { code: number; reason: string } | undefined;
  private readonly waiters = new Set<() => void>();
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      this.frames.push(JSON.parse(String(data)) as Frame);
      this.wake();
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: String(reason) };
      this.wake();
    });
    ws.on('error', () => undefined);
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  static open(query = ''): Promise<Socket> {
    const ws = new WebSocket(`${helper.url().replace(/^http/, 'ws')}${WS}${query}`, { handshakeTimeout: 2000 });
    const s = new Socket(ws);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(s));
      ws.once('error', reject);
    });
  }

  /** Resolves when `test` holds (checked on every frame and on close); rejects after `ms`. */
  until(test: () => boolean, what: string, ms = 2000): Promise<void> {
    if (test()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!test()) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`${what} within ${ms} ms; got ${JSON.stringify(this.frames).slice(0, 300)}, closed ${JSON.stringify(this.closed)}`));
      }, ms);
      this.waiters.add(check);
    });
  }

  of(type: string): Frame[] {
    return this.frames.filter((f) => f.type === type);
  }

  close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      this.ws.once('close', () => resolve());
      this.ws.close();
    });
  }
}

/** What a frame must get: an ack (and the flow gets it), an error frame, or a close with a protocol code. */
type Expect = { kind: 'ack'; id: string; text: string } | { kind: 'error'; id?: string; match?: RegExp } | { kind: 'close'; code: number };

interface Case {
  query: string;
  /** Text frame (string), raw bytes sent as a text frame, or a binary frame. */
  data: { text: string } | { rawText: Buffer } | { binary: Buffer };
  expect: Expect;
}

const ID = fc.stringMatching(/^[A-Za-z0-9_-]{1,40}$/);
const BAD_ID = fc.oneof(fc.constantFrom('', '../etc', 'a b', 'x'.repeat(129), 'ü', '<script>', '\ud800', 'a/b', 'a?b=c'), wrongType);

let seq = 0;

/** Percent-encoded; a lone surrogate (which encodeURIComponent refuses) as the bytes of an encoded surrogate. */
function encodeQuery(q: string): string {
  try {
    return encodeURIComponent(q);
  } catch {
    return '%ED%A0%80';
  }
}


const caseArb: fc.Arbitrary<Case> = fc
  .tuple(
    fc.record({ userId: ID, userName: fc.option(fc.string({ minLength: 1, maxLength: 20 }).filter((s) => s.trim() !== ''), { nil: undefined }), text: nastyString, noise: noiseEntries }),
    fc.oneof(
      { weight: 3, arbitrary: fc.constant({ kind: 'none' as const }) },
      { weight: 6, arbitrary: fc.tuple(fc.constantFrom('type', 'id', 'userId', 'userName', 'text'), fc.oneof(wrongType, BAD_ID)).map(([field, value]) => ({ kind: 'field' as const, field, value })) },
      { weight: 2, arbitrary: fc.constantFrom('id', 'userId', 'text', 'type').map((field) => ({ kind: 'missing' as const, field })) },
      {
        weight: 4,
        arbitrary: fc.constantFrom('truncate', 'not-json', 'array', 'null', 'deep', 'blank', 'too-long', 'huge', 'huge', 'raw-utf8', 'raw-utf8', 'binary', 'empty', 'type-case', 'proto-type'),
      }.arbitrary.map((kind) => ({ kind })),
    ),
    fc.oneof({ weight: 5, arbitrary: fc.constant('none') }, { weight: 1, arbitrary: fc.constant('own') }, { weight: 1, arbitrary: BAD_ID.filter((v) => typeof v === 'string') as fc.Arbitrary<string> }),
  )
  .map(([v, sp, q]) => {
    const n = ++seq;
    const id = `f${n}`;
    const text = `VALID-${n}-${v.text}`;
    const o: Json = {};
    withNoise(o, v.noise.filter(([k]) => !['type', 'id', 'userId', 'userName', 'text'].includes(k)));
    Object.assign(o, { type: 'message', id, userId: v.userId, text });
    if (v.userName) o.userName = v.userName;
    const query = q === 'none' ? '' : q === 'own' ? `?userId=${v.userId}` : `?userId=${encodeQuery(q)}`;
    let expect: Expect = { kind: 'ack', id, text };
    let data: Case['data'] = { text: toJson(o) };
    if (sp.kind === 'field') {
      put(o, sp.field, sp.value);
      // Some of the "bad" values are fine where they landed: a user name or a text is any non-blank string.
      const fine =
        typeof sp.value === 'string' && sp.value.trim() !== '' && ((sp.field === 'userName' && sp.value.trim().length <= 128) || (sp.field === 'text' && sp.value.length <= 8000));
      if (fine && sp.field === 'text') expect = { kind: 'ack', id, text: sp.value as string };
      if (!fine) {
        if (sp.field !== 'text') o.text = `JUNK-${n}`;
        expect = { kind: 'error', ...(sp.field !== 'id' ? { id } : {}) };
      }
      data = { text: toJson(o) };
    } else if (sp.kind === 'missing') {
      delete o[sp.field];
      if (sp.field !== 'text') o.text = `JUNK-${n}`;
      expect = { kind: 'error', ...(sp.field !== 'id' ? { id } : {}) };
      data = { text: toJson(o) };
    } else if (sp.kind !== 'none') {
      o.text = `JUNK-${n}`;
      const json = toJson(o);
      switch (sp.kind) {
        case 'truncate':
          data = { text: json.slice(0, Math.floor(json.length / 2)) };
          expect = { kind: 'error', match: /not JSON/ };
          break;
        case 'not-json':
          data = { text: `message ${id} ${o.text}` };
          expect = { kind: 'error', match: /not JSON/ };
          break;
        case 'array':
          data = { text: toJson([o]) };
          expect = { kind: 'error' };
          break;
        case 'null':
          data = { text: 'null' };
          expect = { kind: 'error' };
          break;
        case 'deep':
          data = { text: toJson({ ...o, text: deep(20_000) }) };
          expect = { kind: 'error', id };
          break;
        case 'blank':
          data = { text: toJson({ ...o, text: ' \n\t ' }) };
          expect = { kind: 'error', id };
          break;
        case 'too-long':
          data = { text: toJson({ ...o, text: 'x'.repeat(8001) }) };
          expect = { kind: 'error', id };
          break;
        case 'huge':
          // Over the 64 KB frame limit: the WebSocket protocol's own answer, 1009 (message too big).
          data = { text: toJson({ ...o, pad: 'p'.repeat(70_000 + n) }) };
          expect = { kind: 'close', code: 1009 };
          break;
        case 'raw-utf8':
          // A text frame must be UTF-8: the protocol's answer is a close with 1007.
          data = { rawText: Buffer.concat([Buffer.from(json.slice(0, -2)), INVALID_UTF8[n % INVALID_UTF8.length], Buffer.from(json.slice(-2))]) };
          expect = { kind: 'close', code: 1007 };
          break;
        case 'binary':
          data = { binary: Buffer.from(json) };
          expect = { kind: 'error', match: /binary/ };
          break;
        case 'empty':
          data = { text: '' };
          expect = { kind: 'error', match: /not JSON/ };
          break;
        case 'type-case':
          data = { text: toJson({ ...o, type: 'Message' }) };
          expect = { kind: 'error', id };
          break;
        case 'proto-type': {
          // `type` only on the prototype: not the frame's own field.
          const p: Json = { ...o };
          delete p.type;
          put(p, '__proto__', { type: 'message' });
          data = { text: toJson(p) };
          expect = { kind: 'error', id };
          break;
        }
      }
    }
    // Whatever else is wrong, a frame over the 64 KB limit is the protocol's business first.
    const bytes = 'text' in data ? Buffer.byteLength(data.text) : 'rawText' in data ? data.rawText.length : data.binary.length;
    if (bytes > 64 * 1024) expect = { kind: 'close', code: 1009 };
    const c: Case = { query, data, expect };
    const head = 'text' in data ? data.text : ('rawText' in data ? data.rawText : data.binary).toString('utf8');
    return Object.assign(c, { [fc.toStringMethod]: () => `${JSON.stringify(expect)} for ${Object.keys(data)[0]} ${bytes} bytes, query ${JSON.stringify(query)}: ${JSON.stringify(head.slice(0, 300))}` });
  });

describe('webchat in: hostile WebSocket frames', function () {
  this.timeout(60000);
  useHttpServer();
  const sockets: Socket[] = [];
  const open = async (query = '') => {
    const s = await Socket.open(query);
    sockets.push(s);
    await s.until(() => s.of('hello').length > 0, 'a hello frame');
    return s;
  };

  before(async () => {
    useUserDir();
    const mods = nodeModules(['gateway', 'webchatIn', 'webchatOut']).map((mod) => (RED: AnyRED) => {
      RED._ = translate;
      return mod(RED);
    });
    await helper.load(mods, [
      { id: 'gw', type: 'chatgate-gateway', name: 'hostile web chat' },
      { id: 'in', type: 'chatgate-webchat-in', gateway: 'gw', path: '/hc', wires: [['h']] },
      { id: 'h', type: 'helper' },
    ] as never);
  });
  afterEach(async () => {
    await Promise.all(sockets.splice(0).map((s) => s.close()));
  });
  after(async () => {
    await unload();
  });

  /** The users the in node counts, from its status (every socket closed: 0). */
  function usersShown(): number {
    const spy = getNode('in').status as { lastCall?: { args: Array<{ text?: string }> } };
    return Number(/^(\d+) users/.exec(spy.lastCall?.args[0]?.text ?? '')?.[1] ?? NaN);
  }

  async function served(text: string): Promise<void> {
    const seen = collect('h');
    const s = await open();
    s.ws.send(JSON.stringify({ type: 'message', id: `after-${Date.now()}`, userId: 'after', text }));
    await s.until(() => s.of('ack').length === 1, 'an ack for the valid frame');
    await until(() => seen.some((m: { payload: string }) => m.payload === text), 2000, 'the valid message in the flow');
    await s.close();
  }

  it('120 generated frames, each on its own socket: valid ones acked and in the flow once, the rest refused with an error or the protocol close', async () => {
    const seen = collect('h') as Array<{ payload: string; chat: { userId: string; messageId: string } }>;
    await served('warm-up');
    seen.length = 0;
    const heapBefore = await heapAfterGc();
    const acked = new Map<string, string>();
    const kinds = new Set<string>();
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        const s = await open(c.query);
        if (c.query && c.query !== '' && !/^\?userId=[A-Za-z0-9_-]{1,128}$/.test(c.query)) {
          await s.until(() => s.of('error').some((f) => /userId/.test(String(f.error))), 'a badUser error for the URL');
          s.frames.length = 0;
        }
        if ('text' in c.data) s.ws.send(c.data.text);
        else if ('rawText' in c.data) s.ws.send(c.data.rawText, { binary: false });
        else s.ws.send(c.data.binary, { binary: true });
        const e = c.expect;
        kinds.add(e.kind);
        if (e.kind === 'ack') {
          await s.until(() => s.of('ack').length > 0 || s.of('error').length > 0, 'an ack');
          assert.deepEqual(s.of('error'), [], 'a valid frame was refused');
          assert.equal(s.of('ack')[0].id, e.id);
          acked.set(e.id, e.text);
        } else if (e.kind === 'error') {
          await s.until(() => s.of('error').length > 0 || s.of('ack').length > 0 || s.closed !== undefined, 'an error frame');
          assert.deepEqual(s.of('ack'), [], 'an invalid frame was acknowledged');
          assert.equal(s.closed, undefined, 'the socket is kept after a bad frame');
          const err = s.of('error')[0];
          assert.equal(typeof err.error, 'string');
          assert.ok(String(err.error).length < 400, 'one short sentence');
          if (e.id) assert.equal(err.id, e.id, 'the error names the message');
          if (e.match) assert.match(String(err.error), e.match);
        } else {
          await s.until(() => s.closed !== undefined, `a close with ${e.code}`);
          assert.equal(s.closed!.code, e.code);
          assert.deepEqual(s.of('ack'), []);
        }
        await s.close();
      }),
      { numRuns: 120, endOnFailure: true },
    );
    await sleep(100);
    assert.ok(kinds.has('ack') && kinds.has('error') && kinds.has('close'), `kinds generated: ${[...kinds].join(', ')}`);
    assert.deepEqual(
      seen.map((m) => m.chat.messageId).sort(),
      [...acked.keys()].sort(),
      'exactly the acknowledged frames reached the flow, once each',
    );
    for (const m of seen) assert.equal(m.payload, acked.get(m.chat.messageId));
    await until(() => usersShown() === 0, 2000, `no users counted once every socket closed (status shows ${usersShown()})`);
    await assertHeapBounded(heapBefore, 30, '120 hostile frames');
    await served('still served');
  });

  it('a flood on one socket: the burst is passed, the rest refused as too fast; a new visitor is served at once', async () => {
    const seen = collect('h');
    const s = await open();
    for (let i = 0; i < 150; i++) s.ws.send(JSON.stringify({ type: 'message', id: `flood-${i}`, userId: 'flooder', text: `flood ${i}` }));
    await s.until(() => s.of('ack').length + s.of('error').length === 150, 'an answer to each of 150 frames', 5000);
    const acks = s.of('ack').length;
    assert.ok(acks >= 30 && acks <= 32, `${acks} acknowledged (a burst of 30, one more a second)`);
    assert.ok(s.of('error').every((f) => /too many messages/.test(String(f.error))));
    await sleep(50);
    assert.equal(seen.length, acks, 'only the acknowledged ones reached the flow');
    await served('after the flood');
  });

  it('200 junk frames on one socket: each answered with an error, the socket kept, then a valid frame acked', async () => {
    const seen = collect('h');
    const s = await open();
    const junk = fc.sample(fc.oneof(fc.string({ maxLength: 50 }), fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v) ?? 'null')), { numRuns: 200, seed: 7 });
    for (const j of junk) s.ws.send(j === '' ? ' ' : j);
    await s.until(() => s.of('error').length === 200, 'an error for each junk frame', 5000);
    assert.equal(s.closed, undefined);
    s.ws.send(JSON.stringify({ type: 'message', id: 'good-1', userId: 'junkie', text: 'finally' }));
    await s.until(() => s.of('ack').length === 1, 'the ack');
    await sleep(50);
    assert.deepEqual(seen.map((m: { payload: string }) => m.payload), ['finally']);
  });

  it('150 sockets opened and closed as fast as possible (closed, terminated, dropped mid-handshake): no user left counted, heap bounded, next visitor served', async () => {
    const heapBefore = await heapAfterGc();
    const url = `${helper.url().replace(/^http/, 'ws')}${WS}`;
    await Promise.all(
      Array.from({ length: 150 }, (_, i) =>
        new Promise<void>((resolve) => {
          const ws = new WebSocket(`${url}?userId=rapid-${i % 10}`, { handshakeTimeout: 2000 });
          ws.on('error', () => resolve());
          ws.on('close', () => resolve());
          if (i % 3 === 0) setImmediate(() => ws.terminate()); // mid-handshake
          else
            ws.on('open', () => {
              if (i % 3 === 1) ws.terminate();
              else {
                ws.send(JSON.stringify({ type: 'message', id: `r${i}`, userId: `rapid-${i % 10}`, text: 'bye' }));
                ws.close();
              }
            });
        }),
      ),
    );
    await until(() => usersShown() === 0, 3000, `no user left counted (status shows ${usersShown()})`);
    await assertHeapBounded(heapBefore, 20, '150 rapid sockets');
    await served('after the rapid sockets');
  });
});
