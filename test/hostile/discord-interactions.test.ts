/**
 * The Discord HTTP interactions endpoint against generated hostile requests in the real Node-RED
 * runtime: Ed25519 signatures forged (another key, a flipped bit, the wrong length, not hex, over
 * another body or another timestamp), stale and future timestamps, missing headers, replays of a
 * signed request; bodies malformed, truncated, of the wrong types, with prototype keys, oversized
 * or cut off; PING abuse (PINGs with junk around them, a `type` that only looks like 1). A signed
 * valid interaction is answered 200 (PONG, a deferral) and reaches the flow once; anything not
 * signed right is 401 and reaches nothing; a signed malformed one is 400 or answered without
 * reaching the flow; never a 5xx, never a hang.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import fc from 'fast-check';
import type { DiscordServer } from '../emulators/discord-server';
import { collect, getNode, helper, sleep, unload, useUserDir } from '../helpers/red';
import { botNode, gateway, loadFlow, startEmulator, useHttpServer, type FlowNode } from '../helpers/discord';
import { until } from '../helpers/telegram';
import { assertHeapBounded, assertNo5xx, heapAfterGc, noiseEntries, put, rawPost, toJson, transport, withNoise, wrongType, type Json, type Transport } from '../helpers/hostile';

const PATH = '/hd/interactions';
const RUNS = 130;
const MAX_BYTES = 1024 * 1024;

type Expect = 'pong' | 'command' | 'component' | 'answered' | 'bad-body' | 'unauthorized' | 'too-large' | 'replay' | 'cut-off';

type Sig =
  | { kind: 'right' }
  | { kind: 'skewed'; seconds: number }
  | { kind: 'forged'; how: 'other-key' | 'flipped' | 'short' | 'not-hex' | 'other-body' | 'other-timestamp' | 'no-signature' | 'no-timestamp' | 'timestamp-text' | 'upper-and-junk' };

interface Case {
  expect: Expect;
  body: Buffer;
  marker?: string;
  /** What a replay was before it became one (the answer it gets when there is nothing to replay yet). */
  was?: 'command' | 'component';
  sig: Sig;
  transport: Transport;
}

const sigArb: fc.Arbitrary<Sig> = fc.oneof(
  { weight: 5, arbitrary: fc.constant<Sig>({ kind: 'right' }) },
  { weight: 1, arbitrary: fc.oneof(fc.integer({ min: 301, max: 86_400 }), fc.integer({ min: -86_400, max: -301 })).map<Sig>((seconds) => ({ kind: 'skewed', seconds })) },
  {
    weight: 3,
    arbitrary: fc
      .constantFrom('other-key', 'flipped', 'short', 'not-hex', 'other-body', 'other-timestamp', 'no-signature', 'no-timestamp', 'timestamp-text', 'upper-and-junk')
      .map<Sig>((how) => ({ kind: 'forged', how: how as 'flipped' })),
  },
);

const otherKey = generateKeyPairSync('ed25519').privateKey;
const KINDS = ['ping', 'ping-noise', 'ping-lookalike', 'command', 'command', 'component', 'component', 'wrong-types', 'proto', 'truncated', 'not-json', 'not-object', 'too-large'] as const;
let seq = 0;

describe('discord interactions endpoint: generated hostile requests', function () {
  this.timeout(60000);
  let discord: DiscordServer;
  useHttpServer();

  before(async () => {
    useUserDir();
    discord = await startEmulator();
    const flow: FlowNode[] = [gateway, botNode(discord, { receive: 'http', path: PATH }), { id: 'in', type: 'chatgate-discord-in', bot: 'bot', gateway: 'gw', wires: [['h']] }, { id: 'h', type: 'helper' }];
    await loadFlow(flow, { token: discord.token, publicKey: discord.publicKeyHex });
    await until(() => getNode('bot').connection?.status.key === 'http', 8000, 'listening');
    // A bot message with a button, for the presses.
    await getNode('bot').connection.calls.call('POST', `/channels/${discord.fixtures.channel}/messages`, {
      kind: 'create',
      body: { content: 'pick', allowed_mentions: { parse: [] }, components: [{ type: 1, components: [{ type: 2, style: 1, label: 'Go', custom_id: 'go' }] }] },
    });
  });
  after(async () => {
    await unload();
    await discord.close();
  });

  const url = () => `${helper.url()}${PATH}`;

  function caseArb(): fc.Arbitrary<Case> {
    return fc
      .tuple(
        sigArb,
        transport,
        fc.constantFrom('whole', 'whole', 'whole', 'replay', 'cut', 'short'),
        noiseEntries,
        wrongType,
      )
      .map(([sig, tr, special, noise, bad]) => {
        const n = ++seq;
        // Every kind in turn, so each run covers them all whatever the seed.
        const k = KINDS[n % KINDS.length];
        const marker = `VALID-${n}`;
        let expect: Expect;
        let body: Buffer;
        // Noise only under names Discord does not use.
        const extra = noise.filter(([key]) => !['id', 'type', 'token', 'application_id', 'data', 'member', 'user', 'channel', 'channel_id', 'guild_id', 'message'].includes(key));
        switch (k) {
          case 'ping':
            body = Buffer.from(toJson(discord.make.ping()));
            expect = 'pong';
            break;
          case 'ping-noise':
            body = Buffer.from(toJson(withNoise(discord.make.ping(), extra)));
            expect = 'pong';
            break;
          case 'ping-lookalike': {
            // Not a PING: "1", [1], {valueOf: 1}, or 1 only on the prototype.
            const p = discord.make.ping();
            const looks: unknown[] = ['1', [1], { valueOf: 1 }, 1.5, true];
            if (n % 6 === 5) {
              delete p.type;
              put(p, '__proto__', { type: 1 });
            } else p.type = looks[n % 6];
            body = Buffer.from(toJson(p));
            expect = 'answered';
            break;
          }
          case 'command':
            body = Buffer.from(toJson(withNoise(discord.make.slashCommand('ask', { options: { text: `${marker} asks` } }), extra)));
            expect = 'command';
            break;
          case 'component':
            body = Buffer.from(toJson(discord.make.component(`${marker}-go`)));
            expect = 'component';
            break;
          case 'wrong-types': {
            const cmd = discord.make.slashCommand('ask', { options: { text: `JUNK-${n}` } });
            const fields = ['id', 'token', 'application_id', 'data', 'member', 'channel_id'];
            put(cmd, fields[n % fields.length], bad);
            body = Buffer.from(toJson(cmd));
            expect = 'answered';
            break;
          }
          case 'proto': {
            // The fields a command needs, only on the prototype.
            const cmd = discord.make.slashCommand('ask', { options: { text: `JUNK-${n}` } });
            const own: Json = { type: 2 };
            put(own, '__proto__', cmd);
            put(own, 'constructor', { prototype: cmd });
            body = Buffer.from(toJson(own));
            expect = 'answered';
            break;
          }
          case 'truncated': {
            const json = toJson(discord.make.slashCommand('ask', { options: { text: `JUNK-${n}` } }));
            body = Buffer.from(json.slice(0, Math.floor(json.length * 0.6)));
            expect = 'bad-body';
            break;
          }
          case 'not-json':
            body = Buffer.from(`type=2&id=${n}`);
            expect = 'bad-body';
            break;
          case 'not-object':
            // An array of PINGs, or a JSON value that is no object.
            body = Buffer.from(toJson(n % 2 ? [discord.make.ping()] : bad !== null && typeof bad === 'object' && !Array.isArray(bad) ? 'x' : bad));
            expect = 'bad-body';
            break;
          case 'too-large':
          default:
            body = Buffer.from(toJson({ ...discord.make.ping(), pad: 'p'.repeat(MAX_BYTES + 1 + (n % 5) * 100_000) }));
            expect = 'too-large';
            break;
        }
        const was = expect === 'command' || expect === 'component' ? expect : undefined;
        if (was && special === 'replay') expect = 'replay';
        let t = tr;
        if (special === 'cut' && expect !== 'too-large') t = { kind: 'abort' };
        if (special === 'short' && expect !== 'too-large' && n % 2 === 0) t = { kind: 'short' };
        if (t.kind === 'abort' || t.kind === 'short') expect = 'cut-off';
        // The body is capped first; the signature covers the raw bytes and is checked before they are read as JSON.
        if (sig.kind !== 'right' && expect !== 'cut-off' && expect !== 'too-large') expect = 'unauthorized';
        const c: Case = { expect, body, ...(expect === 'command' || expect === 'component' || expect === 'replay' ? { marker, was } : {}), sig, transport: t };
        return Object.assign(c, { [fc.toStringMethod]: () => `${k}: ${expect} via ${t.kind}, ${JSON.stringify(sig)}, ${body.length} bytes: ${JSON.stringify(body.subarray(0, 160).toString())}` });
      });
  }

  function headersFor(c: Case, previous: Case | undefined): Record<string, string> {
    const ts = Math.floor(Date.now() / 1000);
    const h: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'Discord-Interactions/1.0 (+https://discord.com)' };
    const right = discord.signInteraction(c.body, { timestamp: ts }).signature;
    const set = (sig: string | undefined, stamp: string | undefined) => {
      if (sig !== undefined) h['x-signature-ed25519'] = sig;
      if (stamp !== undefined) h['x-signature-timestamp'] = stamp;
    };
    const s = c.sig;
    if (s.kind === 'right') set(right, String(ts));
    else if (s.kind === 'skewed') set(discord.signInteraction(c.body, { timestamp: ts + s.seconds }).signature, String(ts + s.seconds));
    else
      switch (s.how) {
        case 'other-key':
          set(sign(null, Buffer.concat([Buffer.from(String(ts)), c.body]), otherKey).toString('hex'), String(ts));
          break;
        case 'flipped': {
          const b = Buffer.from(right, 'hex');
          b[seq % b.length] ^= 1;
          set(b.toString('hex'), String(ts));
          break;
        }
        case 'short':
          set(right.slice(0, 126), String(ts));
          break;
        case 'not-hex':
          set(`${right.slice(0, 127)}g`, String(ts));
          break;
        case 'other-body':
          set(discord.signInteraction(previous && !previous.body.equals(c.body) ? previous.body : Buffer.concat([c.body, Buffer.from(' ')]), { timestamp: ts }).signature, String(ts));
          break;
        case 'other-timestamp':
          set(right, String(ts - 1));
          break;
        case 'no-signature':
          set(undefined, String(ts));
          break;
        case 'no-timestamp':
          set(right, undefined);
          break;
        case 'timestamp-text':
          set(right, `${ts}.0`);
          break;
        case 'upper-and-junk':
          set(`${right.toUpperCase()}00`, String(ts));
          break;
      }
    return h;
  }

  it('a replayed signed interaction is answered at once (the request is never left open) and reaches the flow once', async () => {
    const seen = collect('h');
    for (const make of [() => discord.make.slashCommand('ask', { options: { text: 'replay me' } }), () => discord.make.component('replay-go')]) {
      const body = Buffer.from(JSON.stringify(make()));
      const headers = { 'content-type': 'application/json', ...discord.signInteraction(body).headers };
      const first = await rawPost(url(), body, headers);
      assert.equal(first.status, 200);
      const type = (JSON.parse(first.body) as { type: number }).type;
      for (let i = 0; i < 3; i++) {
        // Before the fix the book kept the first request's record and nobody answered this one: a socket held open for good.
        const again = await rawPost(url(), body, headers, { kind: 'whole' }, 1500);
        assert.equal(again.status, 200, `replay ${i}`);
        assert.deepEqual(JSON.parse(again.body), { type });
      }
    }
    await sleep(200);
    assert.equal(seen.length, 2, 'each interaction reached the flow once');
  });

  it('a flood of PINGs, signed and forged, in parallel: each signed one PONG, each forged one 401, nothing in the flow', async () => {
    const seen = collect('h');
    const requests = Array.from({ length: 80 }, (_, i) => {
      const body = Buffer.from(JSON.stringify({ ...discord.make.ping(), n: i }));
      const signed = discord.signInteraction(body).headers;
      const flipped = Buffer.from(signed['X-Signature-Ed25519'], 'hex');
      flipped[i % flipped.length] ^= 0x80;
      const headers = i % 2 ? { ...signed, 'X-Signature-Ed25519': flipped.toString('hex') } : signed;
      return rawPost(url(), body, { 'content-type': 'application/json', ...headers }).then((r) => ({ i, r }));
    });
    const started = Date.now();
    for (const { i, r } of await Promise.all(requests)) {
      if (i % 2) assert.equal(r.status, 401, `forged PING ${i}`);
      else assert.deepEqual([r.status, JSON.parse(r.body)], [200, { type: 1 }], `PING ${i}`);
    }
    assert.ok(Date.now() - started < 3000, `80 PINGs answered in ${Date.now() - started} ms`);
    await sleep(100);
    assert.equal(seen.length, 0);
  });

  it(`${RUNS} generated requests: signed valid ones answered and in the flow once, forged/stale/unsigned 401, malformed 400 or answered without reaching the flow`, async () => {
    const seen = collect('h') as Array<{ payload: string; chat: { command?: { args: string } } }>;
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
            // The very request Discord signed, sent again within the five minutes its timestamp is good for.
            sent = { ...lastValid.c, expect: 'replay', transport: c.transport };
            headers = lastValid.headers;
          } else sent = { ...c, expect: c.was! };
        }
        const res = await rawPost(url(), sent.body, headers, sent.transport);
        assertNo5xx(res.status, sent.expect);
        got.set(sent.expect, (got.get(sent.expect) ?? new Set()).add(res.status));
        const what = `${sent.expect} answered ${res.status} after ${res.ms} ms: ${res.body.slice(0, 200)}`;
        assert.ok(res.ms < 2500, `slow: ${what}`);
        const json = () => JSON.parse(res.body) as { type?: number };
        switch (sent.expect) {
          case 'pong':
            assert.equal(res.status, 200, what);
            assert.deepEqual(json(), { type: 1 });
            break;
          case 'command':
          case 'component':
            assert.equal(res.status, 200, what);
            assert.equal(json().type, sent.expect === 'command' ? 5 : 6, what);
            valid.add(sent.marker!);
            lastValid = { c: sent, headers };
            break;
          case 'replay':
          case 'answered':
            assert.equal(res.status, 200, what);
            assert.notEqual(json().type, 1, 'only a PING is answered PONG');
            break;
          case 'bad-body':
            assert.equal(res.status, 400, what);
            break;
          case 'unauthorized':
            assert.equal(res.status, 401, what);
            assert.ok(!res.body.includes('"type"'), 'no interaction answer without a valid signature');
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
    const markerOf = (m: (typeof seen)[number]) => /VALID-\d+/.exec(`${m.payload} ${m.chat.command?.args ?? ''}`)?.[0];
    const markers = seen.map(markerOf);
    assert.ok(markers.every(Boolean), `junk reached the flow: ${JSON.stringify(seen.filter((m) => !markerOf(m)).map((m) => m.payload.slice(0, 60)))}`);
    assert.equal(new Set(markers).size, markers.length, 'an interaction reached the flow twice (a replay)');
    assert.deepEqual(new Set(markers), valid, 'every signed valid interaction reached the flow');
    for (const e of ['pong', 'command', 'component', 'answered', 'bad-body', 'unauthorized'] as const) assert.ok(got.has(e), `no ${e} case was generated`);
    await assertHeapBounded(heapBefore, 40, `${RUNS} hostile interactions`);

    const next = collect('h');
    const r = await discord.postInteraction(url(), discord.make.slashCommand('ask', { options: { text: 'still served' } }));
    assert.equal(r.status, 200);
    await until(() => next.length === 1, 3000, 'the valid command after the junk');
  });
});
