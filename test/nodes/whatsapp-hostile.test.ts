/**
 * The WhatsApp nodes against input that is not what Meta sends. Outbound: every Graph call
 * answered with an error body of an unexpected shape (HTML, empty, truncated, null, wrong types, a
 * closed socket, an answer that echoes the token) — each reply ends at the Catch node as a clean
 * sentence, Node-RED stays up. Inbound: generated junk (fast-check) on the webhook route, signed
 * and forged — each answered with a 4xx or 200, never a 5xx, nothing with a made-up id reaches the
 * flow, and the next valid message is served.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import fc from 'fast-check';
import { BAD_ANSWERS, startHostileServer, type HostileServer } from '../emulators/hostile-server';
import { hubSignature, startWhatsAppServer, type Json, type WhatsAppServer } from '../emulators/whatsapp-server';
import { collect, getNode, helper, sleep, unload, useUserDir } from '../helpers/red';
import { until } from '../helpers/telegram';
import { accountNode, credentials, everythingSaid, gateway, PATH, translated, useHttpServer, whatsappChat, type FlowNode } from '../helpers/whatsapp';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const catchNode = require(path.join(path.dirname(require.resolve('@node-red/nodes/package.json')), 'core/common/25-catch.js'));

const tab = { id: 'f1', type: 'tab' };

async function load(flow: FlowNode[], wa: WhatsAppServer): Promise<void> {
  await helper.load([...translated(['gateway', 'whatsappAccount', 'whatsappIn', 'whatsappOut']), catchNode], flow as never, { wa: credentials(wa) } as never);
}

describe('whatsapp nodes against hostile input', function () {
  this.timeout(60000);
  let wa: WhatsAppServer;
  let hostile: HostileServer | undefined;
  useHttpServer();

  beforeEach(async () => {
    useUserDir();
    wa = await startWhatsAppServer();
  });
  afterEach(async () => {
    await unload();
    await hostile?.close();
    hostile = undefined;
    await wa.close();
  });

  it('every reply answered with a non-standard body ends at the Catch node as a clean sentence', async () => {
    hostile = await startHostileServer({ target: wa.baseUrl, spoil: (p) => /\/messages$/.test(p) });
    await load(
      [
        tab,
        { ...accountNode(wa), apiRoot: hostile.url },
        { id: 'out', z: 'f1', type: 'chatgate-whatsapp-out', account: 'wa', typing: 'typing' },
        { id: 'catcher', type: 'catch', z: 'f1', scope: null, uncaught: false, wires: [['caught']] },
        { id: 'caught', type: 'helper', z: 'f1' },
      ],
      wa,
    );
    const errors: Array<{ error: { message: string; source?: { id: string } } }> = [];
    getNode('caught').on('input', (m: (typeof errors)[number]) => errors.push(m));
    const n = BAD_ANSWERS.length;
    for (let i = 0; i < n; i++) getNode('out').receive({ payload: `reply ${i}`, chat: whatsappChat({ userId: `1555000${1000 + i}` }) });
    await until(() => errors.length >= n, 30000, `${n} errors at the Catch node (got ${errors.length})`);
    for (const e of errors) {
      assert.equal(e.error.source?.id, 'out');
      assert.ok(e.error.message.trim().length > 0);
      assert.ok(!e.error.message.includes(wa.token), `the token in: ${e.error.message}`);
      assert.ok(!/\[object Object\]|: undefined\b/.test(e.error.message), `a formatting accident in: ${e.error.message}`);
    }
    // Typing signals against the same answers: shown in the status at most, never a crash.
    for (let i = 0; i < n; i++) getNode('out').receive({ event: 'typing', payload: '', chat: whatsappChat({ userId: `1555000${2000 + i}` }) });
    await until(() => hostile!.spoiled.length >= 2 * n, 10000, 'every typing call');
    await sleep(300);
    for (const s of everythingSaid('out')) assert.ok(!s.includes(wa.token));
  });

  describe('the webhook route', () => {
    const url = () => `${helper.url()}${PATH}`;

    beforeEach(async () => {
      await load([gateway, accountNode(wa), { id: 'in', type: 'chatgate-whatsapp-in', account: 'wa', gateway: 'gw', wires: [['h']] }, { id: 'h', type: 'helper' }], wa);
      await until(() => getNode('wa')?.connection?.status.key === 'connected', 5000, 'connected');
    });

    async function post(body: string, signature?: string): Promise<number> {
      const res = await fetch(url(), { method: 'POST', headers: { 'content-type': 'application/json', 'x-hub-signature-256': signature ?? wa.sign(body) }, body });
      await res.text();
      return res.status;
    }

    const hex = (minLength: number, maxLength: number) => fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength, maxLength });

    /** Sets an own property, even `__proto__` (plain assignment would set the prototype instead). */
    function put(o: Json, key: string, value: unknown): void {
      Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
    }

    const junk = fc.oneof(
      fc.string({ maxLength: 12 }),
      fc.constant(null),
      fc.boolean(),
      fc.integer(),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 3 }),
      fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
      fc.integer({ min: 1000, max: 200_000 }).map((k) => 'x'.repeat(k)),
    );
    const FIELDS = ['id', 'from', 'from_user_id', 'timestamp', 'type', 'text', 'context', 'interactive', 'image', 'location', 'contacts', 'reaction', '__proto__', 'constructor'];
    const VALUE_FIELDS = ['metadata', 'contacts', 'messages', 'statuses', 'errors', '__proto__'];

    /** A valid notification of one message, spoiled at one or more places. */
    function spoiled(seq: number): fc.Arbitrary<{ body: string; ids: string[] }> {
      return fc
        .tuple(
          fc.array(fc.tuple(fc.constantFrom(...FIELDS), fc.oneof(junk, fc.constant(undefined))), { minLength: 1, maxLength: 3 }),
          fc.array(fc.tuple(fc.constantFrom(...VALUE_FIELDS), junk), { maxLength: 2 }),
          fc.constantFrom('none', 'object', 'entry', 'changes', 'deep', 'truncate', 'utf8'),
        )
        .map(([msgFields, valueFields, outer]) => {
          const { alice } = wa.fixtures;
          const message = wa.make.text(alice, `junk ${seq}`, { id: `wamid.JUNK${seq}` });
          for (const [k, v] of msgFields) {
            if (v === undefined) delete message[k];
            else put(message, k, v);
          }
          const n = wa.notification({ messages: [message], users: [alice] }) as { entry: Array<{ changes: Array<{ value: Json }> }> } & Json;
          for (const [k, v] of valueFields) put(n.entry[0].changes[0].value, k, v);
          let body = JSON.stringify(n);
          if (outer === 'object') body = JSON.stringify({ ...n, object: 'page' });
          if (outer === 'entry') body = JSON.stringify({ ...n, entry: 'all of them' });
          if (outer === 'changes') body = JSON.stringify({ ...n, entry: [{ id: 1, changes: { value: 2 } }] });
          if (outer === 'deep') body = JSON.stringify({ ...n, deep: JSON.parse('['.repeat(2000) + ']'.repeat(2000)) });
          if (outer === 'truncate') body = body.slice(0, Math.max(1, body.length - 7));
          if (outer === 'utf8') body = body.replace('junk', '\ud800junk');
          return { body, ids: [String(message.id)] };
        });
    }

    it('signed junk: answered 200 or 4xx, never 5xx; nothing made up reaches the flow; the next valid message is served', async () => {
      const seen = collect('h');
      let seq = 0;
      const statuses = new Set<number>();
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 0, max: 1 << 30 }).chain(() => spoiled(++seq)), async ({ body }) => {
          const status = await post(body);
          statuses.add(status);
          // Signed: past the signature check, so never 401; a body that is not JSON is 400, anything else 200.
          return status === 200 || status === 400;
        }),
        { numRuns: 150 },
      );
      await sleep(300);
      for (const m of seen) {
        assert.equal(typeof m.payload, 'string');
        assert.match(m.chat.messageId, /^wamid\.JUNK\d+$/, 'only ids that were sent');
        assert.ok(m.chat.userId.length > 0 && !m.chat.userId.includes('undefined'));
        assert.ok(!m.chat.userJid.includes('[object'), m.chat.userJid);
      }
      assert.ok(seen.length > 0, 'junk around a valid message does not hide it');
      const before = seen.length;
      const { bob } = wa.fixtures;
      await wa.userSends(url(), bob, wa.make.text(bob, 'still served'));
      await until(() => seen.length === before + 1, 3000, 'the valid message after the junk');
      assert.equal(seen.at(-1).payload, 'still served');
      assert.ok(statuses.has(200) && statuses.has(400), `answers: ${[...statuses].join(', ')}`);
    });

    it('forged and replayed signatures are answered 401, and nothing reaches the flow', async () => {
      const seen = collect('h');
      const { alice } = wa.fixtures;
      const real = JSON.stringify(wa.notification({ messages: [wa.make.text(alice, 'genuine')], users: [alice] }));
      const realSig = wa.sign(real);
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            hex(0, 80).map((h) => ({ body: real, sig: `sha256=${h}` })),
            fc.string({ maxLength: 40 }).map((s) => ({ body: real, sig: s })),
            fc.string({ minLength: 1, maxLength: 20 }).map((extra) => ({ body: real.replace('genuine', `genuine${extra.replace(/["\\]/g, '')}x`), sig: realSig })),
            hex(8, 40).map((secret) => ({ body: real, sig: hubSignature(secret, real) })),
            fc.constant({ body: real, sig: realSig.toUpperCase().replace('SHA256=', 'sha1=') }),
          ),
          async ({ body, sig }) => (await post(body, sig)) === 401,
        ),
        { numRuns: 120 },
      );
      await sleep(200);
      assert.equal(seen.length, 0, 'no forged message in the flow');
      assert.equal(await post(real, realSig), 200, 'the control');
      await until(() => seen.length === 1, 3000, 'the genuine one');
      assert.equal(await post(real, realSig), 200, 'a replay of the whole signed body');
      await sleep(200);
      assert.equal(seen.length, 1, 'a replayed body is de-duplicated');
    });

    it('an oversized body is refused with 413 before it is read whole', async () => {
      const big = JSON.stringify({ object: 'whatsapp_business_account', entry: [], pad: 'x'.repeat(4 * 1024 * 1024) });
      assert.equal(await post(big), 413);
    });
  });
});
