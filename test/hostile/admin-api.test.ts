/**
 * The gateway's admin API (RED.httpAdmin) against generated hostile requests in the real
 * Node-RED runtime, every route — the gateway list, channels, threads (list and end), the message
 * log, the allowlist (read, add, remove), send, the operator's desk (takeover, reply, hand-back,
 * dismiss a hand-off), pairing (list, approve, deny), and the chat history (`/chats`,
 * `/chats/:jid/messages`) — with hostile path parameters (prototype names, malformed percent
 * escapes, lone surrogates, over-long ids), queries (repeated keys, nested keys, huge and negative
 * numbers, SQL wildcards and quotes), bodies (malformed JSON, wrong types, prototype keys, deep
 * nesting, oversized, forms) and permissions (none, read only, garbage). Without the permission a
 * route needs: 401 or 403 and no effect; with it: a 2xx or 4xx, never a 5xx; a refused change
 * changes nothing; a send reaches the visitor only when answered 200; the gateway keeps serving.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import WebSocket from 'ws';
import { enforcePermissionsByHeader, getNode, helper, inbound, load, setRedPatch, sleep, unload, useUserDir } from '../helpers/red';
import { useHttpServer } from '../helpers/discord';
import { until } from '../helpers/telegram';
import { assertHeapBounded, assertNo5xx, deep, heapAfterGc, nastyString, put, toJson, wrongType, type Json } from '../helpers/hostile';

const RUNS = 330;
const BASE = '/chatgate/gateways';

type Level = 'read' | 'write';
type Route = { name: string; method: 'get' | 'post' | 'delete'; level: Level; path: (id: string, p: string) => string; body?: boolean };

const ROUTES: Route[] = [
  { name: 'list', method: 'get', level: 'read', path: () => BASE },
  { name: 'channels', method: 'get', level: 'read', path: (id) => `${BASE}/${id}/channels` },
  { name: 'threads', method: 'get', level: 'read', path: (id) => `${BASE}/${id}/threads` },
  { name: 'end thread', method: 'delete', level: 'write', path: (id, p) => `${BASE}/${id}/threads/${p}` },
  { name: 'log', method: 'get', level: 'read', path: (id) => `${BASE}/${id}/log` },
  { name: 'chats', method: 'get', level: 'read', path: (id) => `${BASE}/${id}/chats` },
  { name: 'messages', method: 'get', level: 'read', path: (id, p) => `${BASE}/${id}/chats/${p}/messages` },
  { name: 'allowlist', method: 'get', level: 'read', path: (id) => `${BASE}/${id}/allowlist` },
  { name: 'allow', method: 'post', level: 'write', path: (id) => `${BASE}/${id}/allowlist`, body: true },
  { name: 'disallow', method: 'delete', level: 'write', path: (id, p) => `${BASE}/${id}/allowlist/${p}` },
  { name: 'send', method: 'post', level: 'write', path: (id) => `${BASE}/${id}/send`, body: true },
  { name: 'operator', method: 'get', level: 'read', path: (id) => `${BASE}/${id}/operator` },
  { name: 'takeover', method: 'post', level: 'write', path: (id, p) => `${BASE}/${id}/threads/${p}/takeover` },
  { name: 'handback', method: 'post', level: 'write', path: (id, p) => `${BASE}/${id}/threads/${p}/handback` },
  { name: 'reply', method: 'post', level: 'write', path: (id, p) => `${BASE}/${id}/threads/${p}/reply`, body: true },
  { name: 'dismiss hand-off', method: 'delete', level: 'write', path: (id, p) => `${BASE}/${id}/threads/${p}/handoff` },
  { name: 'pairings', method: 'get', level: 'read', path: (id) => `${BASE}/${id}/pairings` },
  { name: 'approve pairing', method: 'post', level: 'write', path: (id, p) => `${BASE}/${id}/pairings/${p}/approve` },
  { name: 'deny pairing', method: 'delete', level: 'write', path: (id, p) => `${BASE}/${id}/pairings/${p}` },
];

/** Held permissions, as the header lists them; undefined = no token at all. */
const PERMS: Array<string | undefined> = [undefined, '', 'read', 'write', 'read,write', 'chatgate-gateway.read', 'chatgate-gateway.write', '*', 'READ', 'admin', 'read, write', 'chatgate-gateway.read,chatgate-gateway.write'];

/** Express decodes path parameters before any route middleware runs: one it cannot decode is 400 for everybody. */
function undecodable(url: string): boolean {
  try {
    for (const part of url.split('?')[0].split('/')) decodeURIComponent(part);
    return false;
  } catch {
    return true;
  }
}

/**
 * The admin app's body parsers (JSON and forms, 5 MB) also run before any route: what they refuse
 * is refused for everybody — 413 over the limit, 415 for a charset other than UTF-8, 400 for JSON
 * that is not an object or array (strict mode).
 */
function parserRefuses(body: Body | undefined): number | undefined {
  if (!body || body.kind !== 'raw' || !/json/.test(body.contentType)) return undefined;
  if (Buffer.byteLength(body.text) > 5 * 1024 * 1024) return 413;
  if (/charset=(?!utf-8)/i.test(body.contentType)) return 415;
  try {
    const v: unknown = JSON.parse(body.text);
    return v !== null && typeof v === 'object' ? undefined : 400;
  } catch {
    return 400;
  }
}

function allowed(perms: string | undefined, level: Level): 401 | 403 | true {
  if (perms === undefined) return 401;
  const held = perms.split(',');
  return held.includes(level) || held.includes(`chatgate-gateway.${level}`) || held.includes('*') ? true : 403;
}

/** A path segment as sent: percent-encoded junk, prototype names, a malformed escape, a lone surrogate's bytes. */
const segment: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('webchat:op', 'webchat:ghost', 'tg:1', '*', 'webhook:*', '__proto__', 'constructor', 'hasOwnProperty', '..', '%2e%2e', '%00', '%', '%E0%A4%A', '%ED%A0%80', 'a%2Fb', 'x'.repeat(600)),
  fc.string({ maxLength: 40 }).map((s) => {
    try {
      return encodeURIComponent(s) || 'e';
    } catch {
      return '%ED%B0%80';
    }
  }),
);

const idSegment = fc.oneof({ weight: 6, arbitrary: fc.constant('gw') }, { weight: 1, arbitrary: segment });

/** A query string: known keys with junk values, repeated and nested keys, prototype names. */
const query: fc.Arbitrary<string> = fc
  .array(
    fc.tuple(
      fc.constantFrom('limit', 'offset', 'before', 'since', 'q', 'list', 'limit[]', 'q[a]', '__proto__[limit]', 'constructor[prototype][x]', 'list[0]'),
      fc.oneof(
        fc.constantFrom('0', '1', '-1', '50', '200', '201', '1e400', 'NaN', 'Infinity', '9'.repeat(400), '1.5', '0x10', ' 5', '', '%', '%ZZ', "' OR 1=1 --", '%25', '_', '\\', '"', '*'),
        fc.integer({ min: -1e9, max: 1e12 }).map(String),
        nastyString.map((s) => {
          try {
            return encodeURIComponent(s);
          } catch {
            return '%ED%A0%80';
          }
        }),
      ),
    ),
    { maxLength: 4 },
  )
  .map((pairs) => (pairs.length ? `?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}` : ''));

type Body = { kind: 'json'; value: unknown } | { kind: 'raw'; text: string; contentType: string };

/** Bodies for the allowlist and send routes: valid ones, and every way to spoil them. */
function bodyArb(route: 'allow' | 'send'): fc.Arbitrary<Body> {
  const good =
    route === 'allow'
      ? fc.record({ jid: fc.constantFrom('webchat:friend', 'tg:42', 'webhook:*', '*', 'slack:U0123'), label: fc.option(fc.string({ maxLength: 30 }), { nil: undefined }), list: fc.option(fc.constantFrom('default', 'vip'), { nil: undefined }) })
      : fc.record({ chatJid: fc.constantFrom('webchat:op', 'webchat:op', 'webchat:ghost'), text: fc.string({ minLength: 1, maxLength: 40 }).map((t) => `SEND ${t}`), threadId: fc.option(fc.constantFrom('th_nope', 'x'), { nil: undefined }) });
  const fields = route === 'allow' ? ['jid', 'label', 'list'] : ['chatJid', 'text', 'threadId'];
  return fc.oneof(
    { weight: 3, arbitrary: good.map<Body>((value) => ({ kind: 'json', value: JSON.parse(JSON.stringify(value)) })) },
    {
      weight: 3,
      arbitrary: fc.tuple(good, fc.constantFrom(...fields), fc.oneof(wrongType, fc.constantFrom('', 'not a jid', 'x'.repeat(100_001), 'tg:', ':', 'webchat:\u0000'), nastyString)).map<Body>(([v, f, bad]) => {
        const o = JSON.parse(JSON.stringify(v)) as Json;
        put(o, f, bad);
        return { kind: 'json', value: o };
      }),
    },
    {
      weight: 2,
      arbitrary: good.map<Body>((v) => {
        // The fields only on the prototype (an own __proto__ key, as JSON.parse makes it) or under constructor.
        const o: Json = {};
        put(o, '__proto__', v);
        put(o, 'constructor', { prototype: v });
        return { kind: 'json', value: o };
      }),
    },
    {
      weight: 2,
      arbitrary: fc.constantFrom<Body>(
        { kind: 'raw', text: '{"jid":', contentType: 'application/json' },
        { kind: 'raw', text: 'null', contentType: 'application/json' },
        { kind: 'raw', text: '[{"jid":"tg:1"}]', contentType: 'application/json' },
        { kind: 'raw', text: '"tg:1"', contentType: 'application/json' },
        { kind: 'raw', text: toJson({ jid: deep(20_000) }), contentType: 'application/json' },
        { kind: 'raw', text: 'jid=tg%3A7&label[__proto__][x]=1&list[]=a&list[]=b', contentType: 'application/x-www-form-urlencoded' },
        { kind: 'raw', text: 'chatJid=webchat%3Aop&text[a]=b', contentType: 'application/x-www-form-urlencoded' },
        { kind: 'raw', text: '{"jid":"tg:9"}', contentType: 'text/plain' },
        { kind: 'raw', text: `{"jid":"tg:1","pad":"${'p'.repeat(5 * 1024 * 1024 + 10)}"}`, contentType: 'application/json' },
        { kind: 'raw', text: '\u00ff\u00fe{"jid":"tg:1"}', contentType: 'application/json; charset=latin1' },
      ),
    },
  );
}

interface Case {
  route: Route;
  url: string;
  perms: string | undefined;
  body?: Body;
}

const caseArb: fc.Arbitrary<Case> = fc
  .tuple(fc.constantFrom(...ROUTES), idSegment, segment, query, fc.constantFrom(...PERMS), bodyArb('allow'), bodyArb('send'))
  .map(([route, id, p, q, perms, allowBody, sendBody]) => {
    const c: Case = { route, url: route.path(id, p) + q, perms, ...(route.name === 'allow' ? { body: allowBody } : route.name === 'send' || route.name === 'reply' ? { body: sendBody } : {}) };
    return Object.assign(c, {
      [fc.toStringMethod]: () => `${route.method.toUpperCase()} ${c.url.slice(0, 300)} as ${JSON.stringify(perms)}${c.body ? ` with ${c.body.kind === 'json' ? toJson(c.body.value).slice(0, 200) : `${c.body.contentType} ${c.body.text.slice(0, 120)}`}` : ''}`,
    });
  });

describe('gateway admin API: generated hostile requests on every route', function () {
  this.timeout(60000);
  useHttpServer();
  let visitor: WebSocket;
  const received: string[] = [];

  const env = process.env.NODE_ENV;
  before(async () => {
    useUserDir();
    // Express's final handler prints every refused request's stack unless told this is a test.
    process.env.NODE_ENV = 'test';
    setRedPatch(enforcePermissionsByHeader);
    await load(['gateway', 'threadResolver', 'webchatIn', 'webchatOut', 'allowlistFilter'], [
      { id: 'gw', type: 'chatgate-gateway', name: 'admin target' },
      { id: 'wc', type: 'chatgate-webchat-in', gateway: 'gw', path: '/ha', wires: [['resolver']] },
      { id: 'resolver', type: 'chatgate-thread-resolver', gateway: 'gw', strategy: 'per-user', wires: [[], []] },
      { id: 'wcout', type: 'chatgate-webchat-out', gateway: 'gw' },
      { id: 'filter', type: 'chatgate-allowlist-filter', gateway: 'gw', mode: 'allowlist', entries: [{ jid: 'webchat:flow-entry' }], wires: [[], []] },
    ]);
    // Some history and threads to page through.
    for (let i = 0; i < 30; i++) getNode('resolver').receive(inbound({ platform: 'webchat', channelId: 'wc', userId: `u${i % 7}`, chatId: `u${i % 7}` }, `history ${i} % _ ' "`));
    await until(() => getNode('gw').gateway.threadCount() === 7, 3000, 'seven threads');
    visitor = new WebSocket(`${helper.url().replace(/^http/, 'ws')}/ha/ws?userId=op`);
    visitor.on('message', (d) => {
      const f = JSON.parse(String(d)) as { type: string; text?: string };
      if (f.type === 'reply') received.push(f.text!);
    });
    await new Promise((r) => visitor.once('open', r));
  });
  after(async () => {
    visitor?.close();
    setRedPatch(undefined);
    process.env.NODE_ENV = env;
    await unload();
  });

  function send(c: Case) {
    const r = helper.request()[c.route.method](c.url).timeout(5000);
    if (c.perms !== undefined) r.set('x-test-permissions', c.perms);
    if (c.body?.kind === 'json') r.set('content-type', 'application/json').send(toJson(c.body.value));
    else if (c.body?.kind === 'raw') r.set('content-type', c.body.contentType).send(c.body.text);
    return r.ok(() => true);
  }

  const entries = async (list: string) => getNode('gw').gateway.allowlists.entries(list) as Array<{ jid: string }>;

  it(`${RUNS} generated requests: permissions enforced first, then 2xx or 4xx (never 5xx), refused changes change nothing`, async () => {
    const gw = getNode('gw').gateway;
    const heapBefore = await heapAfterGc();
    const sentOk: string[] = [];
    const seen = new Map<string, Set<number>>();
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        const lists = ['default', 'vip'];
        const before = Object.fromEntries(await Promise.all(lists.map(async (l) => [l, JSON.stringify(await entries(l))] as const)));
        const threadsBefore = gw.threadCount();
        const res = await send(c);
        assertNo5xx(res.status, `${c.route.name}`);
        const key = `${c.route.name} ${res.status}`;
        seen.set(c.route.name, (seen.get(c.route.name) ?? new Set()).add(res.status));
        const may = allowed(c.perms, c.route.level);
        const refused = parserRefuses(c.body);
        if (undecodable(c.url) && c.route.name !== 'list') {
          assert.equal(res.status, 400, `${key}: an undecodable path parameter`);
        } else if (refused) {
          assert.equal(res.status, refused, `${key}: refused by the body parser`);
        } else if (may !== true) {
          assert.equal(res.status, may, `${key}: the permission decides first`);
        } else {
          assert.ok(res.status >= 200 && res.status < 500, key);
          if (res.status < 300) assert.match(String(res.headers['content-type']), /json/, `${key}: JSON`);
        }
        const changed = res.status >= 200 && res.status < 300;
        if (!changed) {
          for (const l of lists) assert.equal(JSON.stringify(await entries(l)), before[l], `${key}: a refused request changed allowlist ${l}`);
          assert.equal(gw.threadCount(), threadsBefore, `${key}: a refused request ended a thread`);
        }
        if (c.route.name === 'send' && changed && c.body?.kind === 'json') {
          const b = c.body.value as { chatJid: string; text: string };
          if (b.chatJid === 'webchat:op') sentOk.push(b.text);
        }
        if (c.route.name === 'allow' && changed && c.body?.kind === 'json') {
          const b = c.body.value as { jid: string; list?: string };
          const list = b.list ?? 'default';
          if (lists.includes(list)) assert.ok((await entries(list)).some((e) => e.jid === b.jid), `${key}: an accepted entry is on the list`);
        }
      }),
      { numRuns: RUNS, endOnFailure: true },
    );
    await sleep(200);
    assert.deepEqual(received, sentOk, 'the visitor got exactly the sends answered 200, in order');
    // Every route was asked, and past its permission at least once.
    for (const r of ROUTES) assert.ok(seen.has(r.name), `route ${r.name} was never generated`);
    assert.ok([...seen.values()].some((s) => s.has(200)), 'some requests were served');
    await assertHeapBounded(heapBefore, 40, `${RUNS} hostile admin requests`);

    // Still serving: the gateway, its history and a send.
    const as = (p: string) => ({ 'x-test-permissions': p });
    const list = await helper.request().get(BASE).set(as('read')).expect(200);
    assert.equal(list.body[0].id, 'gw');
    const chats = await helper.request().get(`${BASE}/gw/chats?limit=5`).set(as('read')).expect(200);
    assert.equal(chats.body.enabled, true);
    assert.ok(chats.body.items.length > 0);
    await helper.request().post(`${BASE}/gw/send`).set(as('write')).send({ chatJid: 'webchat:op', text: 'after the junk' }).expect(200);
    await until(() => received.at(-1) === 'after the junk', 2000, 'the send after the junk');
  });
});
