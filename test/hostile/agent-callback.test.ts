/**
 * The route an async HTTP agent calls back on (`POST /chatgate/agent/<node id>/callback`), in
 * each auth mode (none, bearer token, HMAC signature), against generated hostile requests in the
 * real Node-RED runtime: missing, wrong and forged credentials; bodies malformed, truncated, of
 * the wrong types, with prototype keys, nested deep, oversized, cut off or sent slowly; threads
 * the gateway does not know. A valid callback for a known thread is answered 200 and leaves the
 * node once with its text; everything else gets its 4xx (401, 400, 404, 413) and leaves nothing;
 * never a 5xx, never a hang; the heap stays bounded and the next valid callback is delivered.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { startHttpAgentServer, type FakeHttpAgent } from '../emulators/http-agent-server';
import { signBody } from '../../nodes/core/signature';
import { collect, getNode, helper, load, sleep, unload, useUserDir } from '../helpers/red';
import { useHttpServer } from '../helpers/discord';
import { until } from '../helpers/telegram';
import { assertHeapBounded, assertNo5xx, deep, heapAfterGc, INVALID_UTF8, nastyString, noiseEntries, put, rawPost, toJson, transport, withNoise, wrongType, type Json, type Transport } from '../helpers/hostile';

const TOKEN = 'agent-cb-token-5d4c3b2a';
const SECRET = 'agent-cb-secret-9a8b7c6d';
const MAX_BYTES = 1024 * 1024;
const RUNS = 110;
const AUTHS = ['none', 'bearer', 'hmac'] as const;
type Auth = (typeof AUTHS)[number];

type Expect = 'delivered' | 'unknown-thread' | 'bad-body' | 'unauthorized' | 'too-large' | 'cut-off';

type Cred = { kind: 'right' } | { kind: 'wrong'; how: 'missing' | 'other' | 'scheme' | 'other-body' | 'no-prefix' | 'query' };

interface Case {
  expect: Expect;
  body: Buffer;
  text?: string;
  threadId?: string;
  cred: Cred;
  transport: Transport;
}

/** Threads the gateway knows (a reply listener each), as the thread resolver leaves them. */
const KNOWN = Array.from({ length: 5 }, (_, i) => `th_known_${i}`);

let seq = 0;
const KINDS = ['valid', 'valid', 'valid', 'unknown', 'unknown', 'field', 'missing', 'truncated', 'not-json', 'not-object', 'deep', 'raw-utf8', 'too-large'] as const;

function caseArb(auth: Auth): fc.Arbitrary<Case> {
  const cred: fc.Arbitrary<Cred> =
    auth === 'none'
      ? fc.constant({ kind: 'right' })
      : fc.oneof(
          { weight: 3, arbitrary: fc.constant<Cred>({ kind: 'right' }) },
          { weight: 2, arbitrary: fc.constantFrom('missing', 'other', 'scheme', 'other-body', 'no-prefix', 'query').map<Cred>((how) => ({ kind: 'wrong', how: how as 'other' })) },
        );
  return fc
    .tuple(
      fc.record({ text: fc.oneof(nastyString, fc.integer({ min: 1, max: 200_000 }).map((n) => 't'.repeat(n)), fc.constant('')), noise: noiseEntries, thread: fc.constantFrom(...KNOWN) }),
      fc.oneof(fc.constantFrom('threadId', 'text'), fc.constant('threadId')),
      wrongType,
      fc.oneof({ weight: 1, arbitrary: fc.constantFrom('', 'x'.repeat(513)) }, { weight: 3, arbitrary: fc.string({ minLength: 1, maxLength: 30 }).map((s) => `th_nobody_${s}`) }),
      cred,
      transport,
      fc.constantFrom('whole', 'whole', 'whole', 'cut', 'short'),
    )
    .map(([v, field, bad, otherThread, c, tr, special]) => {
      const n = ++seq;
      // Every kind in turn, so each run covers them all whatever the seed.
      const kind = KINDS[n % KINDS.length];
      const text = `VALID-${n}-${v.text}`;
      const o: Json = {};
      withNoise(o, v.noise.filter(([k]) => k !== 'threadId' && k !== 'text'));
      o.threadId = v.thread;
      o.text = text;
      let expect: Expect = 'delivered';
      let body = Buffer.from(toJson(o));
      let deliveredText = text;
      switch (kind) {
        case 'unknown':
          o.threadId = otherThread;
          o.text = `JUNK-${n}`;
          body = Buffer.from(toJson(o));
          // An empty or over-long id is a bad body; a well-formed one nobody knows is 404.
          expect = otherThread === '' || otherThread.length > 512 ? 'bad-body' : 'unknown-thread';
          break;
        case 'field':
          put(o, field, bad);
          if (field !== 'text') o.text = `JUNK-${n}`;
          body = Buffer.from(toJson(o));
          expect = 'bad-body';
          break;
        case 'missing':
          delete o[field];
          if (field !== 'text') o.text = `JUNK-${n}`;
          body = Buffer.from(toJson(o));
          expect = 'bad-body';
          break;
        case 'truncated':
          body = Buffer.from(toJson({ ...o, text: `JUNK-${n}` }).slice(0, -3));
          expect = 'bad-body';
          break;
        case 'not-json':
          body = Buffer.from(`threadId=${v.thread}&text=JUNK-${n}`);
          expect = 'bad-body';
          break;
        case 'not-object':
          body = Buffer.from(toJson(n % 2 ? [{ threadId: v.thread, text: `JUNK-${n}` }] : `JUNK-${n}`));
          expect = 'bad-body';
          break;
        case 'deep':
          body = Buffer.from(toJson({ threadId: v.thread, text: deep(50_000) }));
          expect = 'bad-body';
          break;
        case 'raw-utf8': {
          // Raw bytes that are not UTF-8 inside the text: read as U+FFFD, still a text.
          const bytes = INVALID_UTF8[n % INVALID_UTF8.length];
          const json = toJson(o);
          const at = json.indexOf(`VALID-${n}-`) + `VALID-${n}-`.length;
          body = Buffer.concat([Buffer.from(json.slice(0, at)), bytes, Buffer.from(json.slice(at))]);
          deliveredText = `VALID-${n}-${bytes.toString('utf8')}${v.text}`;
          break;
        }
        case 'too-large':
          body = Buffer.from(toJson({ threadId: v.thread, text: `JUNK-${n}`, pad: 'p'.repeat(MAX_BYTES + 1 + (n % 4) * 200_000) }));
          expect = 'too-large';
          break;
      }
      let t = tr;
      if (special === 'cut' && expect !== 'too-large') t = { kind: 'abort' };
      if (special === 'short' && expect !== 'too-large' && n % 2 === 0) t = { kind: 'short' };
      if (t.kind === 'abort' || t.kind === 'short') expect = 'cut-off';
      // A bearer token is checked before the body is read; a signature after (it covers the bytes).
      if (c.kind === 'wrong' && expect !== 'cut-off' && !(auth === 'hmac' && expect === 'too-large')) expect = 'unauthorized';
      const out: Case = { expect, body, cred: c, transport: t, ...(expect === 'delivered' ? { text: deliveredText, threadId: v.thread } : {}) };
      return Object.assign(out, { [fc.toStringMethod]: () => `${kind}: ${expect} via ${t.kind}, ${JSON.stringify(c)}, ${body.length} bytes: ${JSON.stringify(body.subarray(0, 160).toString())}` });
    });
}

function headersFor(auth: Auth, c: Case, previous: Case | undefined): Record<string, string> {
  const h: Record<string, string> = { 'content-type': 'application/json' };
  if (auth === 'none') return h;
  const cred = c.cred;
  if (auth === 'bearer') {
    if (cred.kind === 'right') h.authorization = `Bearer ${TOKEN}`;
    else if (cred.how === 'other') h.authorization = `Bearer ${TOKEN}0`;
    else if (cred.how === 'scheme') h.authorization = `Token ${TOKEN}`;
    else if (cred.how === 'no-prefix') h.authorization = TOKEN;
    else if (cred.how === 'other-body') h.authorization = `Bearer ${SECRET}`;
    else if (cred.how === 'query') h['x-token'] = TOKEN;
    return h;
  }
  if (cred.kind === 'right') h['x-chatgate-signature'] = signBody(SECRET, c.body);
  else if (cred.how === 'other') h['x-chatgate-signature'] = signBody(TOKEN, c.body);
  else if (cred.how === 'scheme') h['x-chatgate-signature'] = signBody(SECRET, c.body).replace('sha256=', 'sha512=');
  else if (cred.how === 'no-prefix') h['x-chatgate-signature'] = signBody(SECRET, c.body).slice(7);
  else if (cred.how === 'other-body') h['x-chatgate-signature'] = signBody(SECRET, previous && !previous.body.equals(c.body) ? previous.body : Buffer.concat([c.body, Buffer.from(' ')]));
  else if (cred.how === 'query') h.authorization = `Bearer ${SECRET}`;
  return h;
}

describe('agent call: the async callback route against generated hostile requests', function () {
  this.timeout(60000);
  let agent: FakeHttpAgent;
  useHttpServer();

  before(async () => {
    useUserDir();
    agent = await startHttpAgentServer({ behavior: { mode: 'async' } });
    const nodes: object[] = [{ id: 'gw', type: 'chatgate-gateway', name: 'callbacks' }];
    const credentials: Record<string, object> = {};
    for (const auth of AUTHS) {
      nodes.push(
        { id: `agent-${auth}`, type: 'chatgate-agent-call', gateway: 'gw', provider: 'http', url: agent.url, auth, async: true, callbackBase: helper.url(), typing: false, timeout: 5, retries: 0, wires: [[`out-${auth}`], [`err-${auth}`]] },
        { id: `out-${auth}`, type: 'helper' },
        { id: `err-${auth}`, type: 'helper' },
      );
      credentials[`agent-${auth}`] = auth === 'bearer' ? { token: TOKEN } : auth === 'hmac' ? { secret: SECRET } : {};
    }
    await load(['gateway', 'agentCall'], nodes, credentials);
    const gw = getNode('gw').gateway;
    await gw.ready;
    for (const id of KNOWN) gw.ops.registerListener(id, { platform: 'webhook', channelId: 'in', chatId: 'c1', userId: 'u1' });
  });
  after(async () => {
    await unload();
    await agent.close();
  });

  const url = (auth: Auth) => `${helper.url()}/chatgate/agent/agent-${auth}/callback`;

  for (const auth of AUTHS) {
    it(`${auth}: ${RUNS} generated callbacks: a valid one for a known thread delivered once, everything else its 4xx and nothing out`, async () => {
      const out = collect(`out-${auth}`) as Array<{ payload: string; thread: { id: string } }>;
      const errs = collect(`err-${auth}`);
      const heapBefore = await heapAfterGc();
      const delivered: Array<{ text: string; threadId: string }> = [];
      const kinds = new Set<Expect>();
      let previous: Case | undefined;
      await fc.assert(
        fc.asyncProperty(caseArb(auth), async (c) => {
          const res = await rawPost(url(auth), c.body, headersFor(auth, c, previous), c.transport);
          assertNo5xx(res.status, c.expect);
          kinds.add(c.expect);
          const what = `${c.expect} answered ${res.status} after ${res.ms} ms: ${res.body.slice(0, 200)}`;
          switch (c.expect) {
            case 'delivered':
              assert.equal(res.status, 200, what);
              assert.deepEqual(JSON.parse(res.body), { delivered: true, threadId: c.threadId });
              delivered.push({ text: c.text!, threadId: c.threadId! });
              break;
            case 'unknown-thread':
              assert.equal(res.status, 404, what);
              break;
            case 'bad-body':
              assert.equal(res.status, 400, what);
              assert.match((JSON.parse(res.body) as { error: string }).error, /^body/);
              break;
            case 'unauthorized':
              // A bearer token is refused before the body is read: under a big body still being sent,
              // the 401 may be lost to the connection closing (the caller sees a reset).
              assert.ok(res.status === 401 || (res.status === undefined && res.reset && c.body.length > 64 * 1024), what);
              break;
            case 'too-large':
              assert.ok(res.status === 413 || (res.status === undefined && res.reset), what);
              break;
            case 'cut-off':
              assert.ok(res.status === undefined || (res.status >= 400 && res.status < 500), what);
              break;
          }
          previous = c;
        }),
        { numRuns: RUNS, endOnFailure: true },
      );
      await sleep(100);
      assert.deepEqual(
        out.map((m) => ({ text: m.payload, threadId: m.thread.id })),
        delivered,
        'exactly the valid callbacks left the node, in order, with their text',
      );
      assert.equal(errs.length, 0, 'nothing on the error output');
      for (const e of ['delivered', 'unknown-thread', 'bad-body', 'cut-off'] as const) assert.ok(kinds.has(e), `no ${e} case was generated`);
      if (auth !== 'none') assert.ok(kinds.has('unauthorized'), 'no unauthorized case was generated');
      await assertHeapBounded(heapBefore, 40, `${RUNS} hostile callbacks`);

      const body = Buffer.from(JSON.stringify({ threadId: KNOWN[0], text: 'still delivered' }));
      const h = headersFor(auth, { expect: 'delivered', body, cred: { kind: 'right' }, transport: { kind: 'whole' } }, undefined);
      assert.equal((await rawPost(url(auth), body, h)).status, 200);
      await until(() => out.at(-1)?.payload === 'still delivered', 2000, 'the valid callback after the junk');
    });
  }
});
