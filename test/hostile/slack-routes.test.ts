/**
 * The slack app's HTTP route (Events API, slash commands and interactivity, one path) against
 * generated hostile requests in the real Node-RED runtime: forged, stale, replayed and missing
 * signatures (X-Slack-Signature over `v0:<timestamp>:<raw body>`, X-Slack-Request-Timestamp),
 * malformed and truncated bodies, wrong types, prototype keys, oversized and cut-off bodies, and
 * url_verification abuse (unsigned, forged, hostile challenges). A signed valid request is
 * answered 200 and reaches the flow once (a replay never again); anything unsigned or forged is
 * answered 401 and reaches nothing, the url_verification challenge included; never a 5xx.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import type { SlackServer } from '../emulators/slack-server';
import { collect, getNode, helper, sleep } from '../helpers/red';
import { SIGNING_SECRET, appNode, gateway, loadFlow, startEmulator } from '../helpers/slack';
import { useHttpServer } from '../helpers/discord';
import { until } from '../helpers/telegram';
import { unload, useUserDir } from '../helpers/red';
import { PROTO_KEYS, assertHeapBounded, assertNo5xx, deep, heapAfterGc, nastyString, noiseEntries, put, rawPost, toJson, transport, withNoise, wrongType, type Json, type Transport } from '../helpers/hostile';

const PATH = '/hs/events';
const MAX_BODY = 1024 * 1024;
const RUNS = 130;

const slackSig = (secret: string, ts: string | number, body: Buffer) => `v0=${createHmac('sha256', secret).update(`v0:${ts}:`).update(body).digest('hex')}`;
const now = () => Math.floor(Date.now() / 1000);

type Expect = 'event' | 'challenge' | 'ignored' | 'bad-body' | 'unauthorized' | 'too-large' | 'replay' | 'cut-off';

interface Case {
  expect: Expect;
  body: Buffer;
  contentType: string;
  /** A valid request's marker, as its payload starts in the flow. */
  marker?: string;
  challenge?: unknown;
  sig: Sig;
  transport: Transport;
}

type Sig =
  | { kind: 'right' }
  | { kind: 'stale'; ageS: number }
  | { kind: 'forged'; how: 'other-secret' | 'reversed' | 'v1' | 'no-signature' | 'no-timestamp' | 'nan-timestamp' | 'other-timestamp' | 'other-body' | 'empty' | 'hex-only' | 'two-values' };

const sigArb: fc.Arbitrary<Sig> = fc.oneof(
  { weight: 5, arbitrary: fc.constant<Sig>({ kind: 'right' }) },
  { weight: 1, arbitrary: fc.integer({ min: 301, max: 86_400 * 30 }).map<Sig>((ageS) => ({ kind: 'stale', ageS })) },
  {
    weight: 3,
    arbitrary: fc
      .constantFrom('other-secret', 'reversed', 'v1', 'no-signature', 'no-timestamp', 'nan-timestamp', 'other-timestamp', 'other-body', 'empty', 'hex-only', 'two-values')
      .map<Sig>((how) => ({ kind: 'forged', how: how as 'v1' })),
  },
);

let seq = 0;
const KINDS = ['dm', 'dm', 'command', 'action', 'challenge', 'event-wrong-types', 'event-proto', 'truncated', 'not-json', 'form-bad-payload', 'too-large'] as const;

describe('slack app HTTP route: generated hostile requests', function () {
  this.timeout(60000);
  let slack: SlackServer;
  useHttpServer();

  before(async () => {
    useUserDir();
    slack = await startEmulator();
    await loadFlow([gateway, appNode(slack.apiUrl, { mode: 'http', path: PATH }), { id: 'in', type: 'chatgate-slack-in', app: 'app', gateway: 'gw', wires: [['h']] }, { id: 'h', type: 'helper' }]);
    await until(() => getNode('app').connection?.status.key === 'listening', 5000, 'listening');
  });
  after(async () => {
    await unload();
    await slack.close();
  });

  const url = () => `${helper.url()}${PATH}`;

  /** A request body: valid ones carry a marker; the spoilt ones are valid JSON or form that Bolt can route but chatgate must drop. */
  function caseArb(): fc.Arbitrary<Case> {
    return fc
      .tuple(sigArb, transport, fc.constantFrom('whole', 'whole', 'whole', 'replay', 'cut', 'short'), noiseEntries, fc.oneof(nastyString, fc.constant('<script>alert(1)</script>'), fc.integer({ min: 1, max: 60_000 }).map((n) => 'c'.repeat(n)), wrongType), wrongType)
      .map(([sig, tr, special, noise, challenge, bad]) => {
        const n = ++seq;
        // Every kind in turn, so each run covers them all whatever the seed.
        const k = KINDS[n % KINDS.length];
        const marker = `VALID-${n}`;
        let body: Buffer;
        let contentType = 'application/json';
        let expect: Expect = 'event';
        let c: unknown;
        switch (k) {
          case 'dm': {
            // Noise under names Slack does not use (prototype names, odd characters) beside the real fields.
            const extra = noise.filter(([key]) => (PROTO_KEYS as readonly string[]).includes(key) || /[^a-z_]/.test(key));
            const ev = withNoise(slack.make.dm(`${marker} says hi`), extra);
            body = Buffer.from(toJson(withNoise(slack.wrapEvent(ev), extra)));
            break;
          }
          case 'command':
            body = Buffer.from(new URLSearchParams(slack.make.slashCommand('/ask', `${marker} please`) as Record<string, string>).toString());
            contentType = n % 2 ? 'application/x-www-form-urlencoded' : 'application/x-www-form-urlencoded; charset=utf-8';
            break;
          case 'action':
            body = Buffer.from(new URLSearchParams({ payload: JSON.stringify(slack.make.blockAction('chatgate_1', { value: `${marker} pressed` })) }).toString());
            contentType = 'application/x-www-form-urlencoded';
            break;
          case 'challenge':
            c = challenge;
            body = Buffer.from(toJson({ token: 'x', type: 'url_verification', challenge }));
            expect = 'challenge';
            break;
          case 'event-wrong-types': {
            // Bolt routes it as an event; chatgate must not build a message of it.
            const ev = slack.make.dm(`JUNK-${n}`) as Json;
            const fields = ['text', 'user', 'channel', 'ts', 'channel_type', 'thread_ts', 'subtype'];
            put(ev, fields[n % fields.length], n % 3 === 0 ? deep(5000) : bad);
            if (n % 2) put(ev, fields[(n + 3) % fields.length], [1, { x: null }]);
            body = Buffer.from(toJson(slack.wrapEvent(ev as never)));
            expect = 'ignored';
            break;
          }
          case 'event-proto': {
            // Prototype keys where the mapping reads: an own __proto__ must not lend the event a user, a text or a channel.
            const ev: Json = { type: 'message', ts: `${1_700_000_000 + n}.000100`, channel_type: 'im' };
            put(ev, '__proto__', { user: slack.fixtures.user, text: `JUNK-${n}`, channel: slack.fixtures.dm });
            put(ev, 'constructor', { prototype: { text: `JUNK-${n}` } });
            body = Buffer.from(toJson(slack.wrapEvent(ev as never)));
            expect = 'ignored';
            break;
          }
          case 'truncated': {
            const json = toJson(slack.wrapEvent(slack.make.dm(`JUNK-${n}`)));
            body = Buffer.from(json.slice(0, Math.floor(json.length * 0.6)));
            expect = 'bad-body';
            break;
          }
          case 'not-json':
            body = Buffer.from(`event=${marker}&&{`);
            expect = 'bad-body';
            break;
          case 'form-bad-payload':
            body = Buffer.from(new URLSearchParams({ payload: `{"type":"block_actions","actions":[{"value":"JUNK-${n}"` }).toString());
            contentType = 'application/x-www-form-urlencoded';
            expect = 'bad-body';
            break;
          case 'too-large':
          default:
            body = Buffer.from(toJson({ ...slack.wrapEvent(slack.make.dm(`JUNK-${n}`)), pad: 'p'.repeat(MAX_BODY + 1 + (n % 5) * 100_000) }));
            expect = 'too-large';
            break;
        }
        if (expect === 'event' && special === 'replay') expect = 'replay';
        let t = tr;
        if (special === 'cut' && expect !== 'too-large') t = { kind: 'abort' };
        if (special === 'short' && expect !== 'too-large' && n % 2 === 0) t = { kind: 'short' };
        if (t.kind === 'abort' || t.kind === 'short') expect = 'cut-off';
        // The raw body is capped before anything else; then the signature is checked before the body is read as JSON or form.
        if (sig.kind !== 'right' && expect !== 'cut-off' && expect !== 'too-large') expect = 'unauthorized';
        const out: Case = { expect, body, contentType, ...(expect === 'event' || expect === 'replay' ? { marker } : {}), ...(expect === 'challenge' ? { challenge: c } : {}), sig, transport: t };
        return Object.assign(out, { [fc.toStringMethod]: () => `${k}: ${expect} via ${t.kind}, ${JSON.stringify(sig)}, ${contentType}, ${body.length} bytes: ${JSON.stringify(body.subarray(0, 160).toString())}` });
      });
  }

  function headersFor(c: Case, previous: Case | undefined): Record<string, string> {
    const ts = now();
    const h: Record<string, string> = { 'content-type': c.contentType, 'user-agent': 'Slackbot 1.0 (+https://api.slack.com/robots)' };
    const right = slackSig(SIGNING_SECRET, ts, c.body);
    const set = (sig: string | undefined, stamp: string | undefined) => {
      if (sig !== undefined) h['x-slack-signature'] = sig;
      if (stamp !== undefined) h['x-slack-request-timestamp'] = stamp;
    };
    const s = c.sig;
    if (s.kind === 'right') set(right, String(ts));
    else if (s.kind === 'stale') set(slackSig(SIGNING_SECRET, ts - s.ageS, c.body), String(ts - s.ageS));
    else
      switch (s.how) {
        case 'other-secret':
          set(slackSig(`${SIGNING_SECRET}0`, ts, c.body), String(ts));
          break;
        case 'reversed':
          set(`v0=${right.slice(3).split('').reverse().join('')}`, String(ts));
          break;
        case 'v1':
          set(`v1=${right.slice(3)}`, String(ts));
          break;
        case 'no-signature':
          set(undefined, String(ts));
          break;
        case 'no-timestamp':
          set(right, undefined);
          break;
        case 'nan-timestamp':
          set(right, 'now');
          break;
        case 'other-timestamp':
          set(right, String(ts - 1));
          break;
        case 'other-body':
          set(slackSig(SIGNING_SECRET, ts, previous && !previous.body.equals(c.body) ? previous.body : Buffer.concat([c.body, Buffer.from('\n')])), String(ts));
          break;
        case 'empty':
          set('', '');
          break;
        case 'hex-only':
          set(right.slice(3), String(ts));
          break;
        case 'two-values':
          set(`${right}, ${right}`, String(ts));
          break;
      }
    return h;
  }

  it(`${RUNS} generated requests: signed valid ones answered 200 and in the flow once, forged/stale/unsigned 401, bad bodies 400, never a 5xx`, async () => {
    const seen = collect('h') as Array<{ payload: string }>;
    const warm = await slack.postEvent(url(), slack.make.dm('warm-up'));
    assert.equal(warm.status, 200);
    await until(() => seen.length === 1, 3000, 'the warm-up message');
    seen.length = 0;
    const heapBefore = await heapAfterGc();
    const valid = new Set<string>();
    const got = new Map<Expect, Set<number | undefined>>();
    let previous: Case | undefined;
    let lastValid: { c: Case; headers: Record<string, string> } | undefined;

    await fc.assert(
      fc.asyncProperty(caseArb(), async (c) => {
        let sent = c;
        let headers = headersFor(c, previous);
        if (c.expect === 'replay') {
          if (lastValid) {
            // The very request Slack signed, sent again within the five minutes a signature is good for.
            sent = { ...lastValid.c, expect: 'replay', transport: c.transport };
            headers = lastValid.headers;
          } else sent = { ...c, expect: 'event' };
        }
        const res = await rawPost(url(), sent.body, headers, sent.transport);
        assertNo5xx(res.status, sent.expect);
        got.set(sent.expect, (got.get(sent.expect) ?? new Set()).add(res.status));
        const what = `${sent.expect} answered ${res.status} after ${res.ms} ms: ${res.body.slice(0, 200)}`;
        // Everything here is acknowledged, refused or dropped at once; only a signed event Bolt cannot
        // route (some wrong-typed fields) waits out its 3 s ack window, then 404 (as below).
        assert.ok(res.ms < (sent.expect === 'ignored' ? 3600 : 2000), `slow: ${what}`);
        switch (sent.expect) {
          case 'event':
            assert.equal(res.status, 200, what);
            valid.add(sent.marker!);
            lastValid = { c: sent, headers };
            break;
          case 'replay':
            assert.equal(res.status, 200, what);
            break;
          case 'ignored':
            assert.ok(res.status === 200 || res.status === 404, what);
            break;
          case 'challenge':
            assert.equal(res.status, 200, what);
            assert.match(String(res.headers['content-type']), /^application\/json/, 'the challenge is echoed as JSON, never as a page');
            assert.deepEqual(JSON.parse(res.body), sent.challenge === undefined ? {} : { challenge: sent.challenge });
            break;
          case 'bad-body':
            assert.equal(res.status, 400, what);
            break;
          case 'unauthorized':
            assert.equal(res.status, 401, what);
            assert.ok(!res.body.includes('challenge'), 'no challenge echoed without a valid signature');
            break;
          case 'too-large':
            assert.ok(res.status === 413 || (res.status === undefined && res.reset), what);
            break;
          case 'cut-off':
            assert.ok(res.status === undefined || (res.status >= 400 && res.status < 500), what);
            break;
        }
        previous = sent;
      }),
      { numRuns: RUNS, endOnFailure: true },
    );

    await sleep(300);
    const markers = seen.map((m) => /^VALID-\d+/.exec(m.payload)?.[0]);
    assert.ok(markers.every(Boolean), `junk reached the flow: ${JSON.stringify(seen.filter((m) => !/^VALID-/.test(m.payload)).map((m) => m.payload.slice(0, 60)))}`);
    assert.equal(new Set(markers).size, markers.length, 'a request reached the flow twice (a replay)');
    assert.deepEqual(new Set(markers), valid, 'every signed valid request reached the flow');
    for (const e of ['event', 'unauthorized', 'challenge', 'bad-body', 'ignored', 'replay'] as const) assert.ok(got.has(e), `no ${e} case was generated`);
    await assertHeapBounded(heapBefore, 40, `${RUNS} hostile Slack requests`);

    const next = collect('h');
    assert.equal((await slack.postEvent(url(), slack.make.dm('still served'))).status, 200);
    await until(() => next.length === 1, 3000, 'the valid event after the junk');
    assert.equal(next[0].payload, 'still served');
  });

  it('signed bodies Bolt cannot route (not an object, no event, unknown shapes) are answered 404 within its 3 s ack window, in parallel, and reach nothing', async () => {
    const seen = collect('h');
    const bodies = fc.sample(
      fc.oneof(
        fc.constantFrom('{}', 'null', '[]', '"event_callback"', '42', '{"type":"event_callback"}', '{"type":"event_callback","event":"message"}', '{"type":"block_actions","actions":"x"}'),
        fc.jsonValue({ maxDepth: 2 }).filter((v) => v === null || typeof v !== 'object' || Array.isArray(v)).map((v) => JSON.stringify(v)),
        fc.dictionary(fc.constantFrom('__proto__', 'constructor', 'x', 'events'), wrongType, { maxKeys: 3 }).map((d) => JSON.stringify(d)),
      ),
      { numRuns: 24, seed: 11 },
    );
    const started = Date.now();
    const answers = await Promise.all(
      bodies.map((b) => {
        const body = Buffer.from(b);
        const ts = now();
        return rawPost(url(), body, { 'content-type': 'application/json', 'x-slack-signature': slackSig(SIGNING_SECRET, ts, body), 'x-slack-request-timestamp': String(ts) }, { kind: 'whole' }, 6000);
      }),
    );
    for (const [i, a] of answers.entries()) {
      assertNo5xx(a.status, bodies[i]);
      assert.ok(a.status !== undefined && a.status >= 200 && a.status < 500, `${bodies[i]}: ${a.status}`);
    }
    assert.ok(Date.now() - started < 5000, `answered in ${Date.now() - started} ms`);
    await sleep(100);
    assert.equal(seen.length, 0);
  });
});
