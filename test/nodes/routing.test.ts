/**
 * The routing spine in the real Node-RED runtime: gateway, allowlist filter, thread resolver and
 * reply router, with state that survives an unload/load of the flow.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AllowEntrySchema } from '../../nodes/core/allowlist';
import { JID_PREFIX } from '../../nodes/core/jid';
import { openSqliteBackend } from '../../nodes/core/store/sqlite-backend';
import { load, unload, useUserDir, getNode, nextMessage, collect, inbound, sleep, helper, setRedPatch, enforcePermissionsByHeader, captured, catalogTranslator } from '../helpers/red';

const GW = { id: 'gw', type: 'chatgate-gateway', name: 'main', strategy: 'per-user', sessionMinutes: 1440, listenerTtlMinutes: 30, dedupeMinutes: 20, resetCommands: '/new, /reset' };

function pipeline(over: { gateway?: object; resolver?: object; filter?: object } = {}) {
  return [
    { ...GW, ...over.gateway },
    { id: 'filter', type: 'chatgate-allowlist-filter', gateway: 'gw', mode: 'open', matchOn: 'either', list: 'default', entries: [], refused: 'output', wires: [['resolver'], ['refused']], ...over.filter },
    { id: 'resolver', type: 'chatgate-thread-resolver', gateway: 'gw', strategy: '', sessionMinutes: '', passReset: false, wires: [['agent'], ['resets']], ...over.resolver },
    { id: 'router', type: 'chatgate-reply-router', gateway: 'gw', wires: [['tg'], [], [], [], ['wh'], ['wc'], ['lost']] },
    { id: 'agent', type: 'helper' },
    { id: 'refused', type: 'helper' },
    { id: 'resets', type: 'helper' },
    { id: 'tg', type: 'helper' },
    { id: 'wh', type: 'helper' },
    { id: 'wc', type: 'helper' },
    { id: 'lost', type: 'helper' },
  ];
}
/** Admin requests made with the given permissions (see enforcePermissionsByHeader). */
function as(perms: string) {
  const r = helper.request();
  return {
    get: (u: string) => r.get(u).set('x-test-permissions', perms),
    post: (u: string) => r.post(u).set('x-test-permissions', perms),
    delete: (u: string) => r.delete(u).set('x-test-permissions', perms),
  };
}
const ALL = ['gateway', 'allowlistFilter', 'threadResolver', 'replyRouter'] as const;

async function turn(user: string, text = 'hi', over: Record<string, unknown> = {}) {
  const got = nextMessage('agent');
  getNode('filter').receive(inbound({ userId: user, ...over }, text));
  return got;
}

describe('routing nodes (real runtime)', function () {
  let userDir: string;
  beforeEach(() => {
    userDir = useUserDir();
  });
  afterEach(async () => {
    setRedPatch(undefined);
    await unload();
  });

  describe('thread resolver', () => {
    it('per-user: same user same thread, another user another thread, turns counted', async () => {
      await load([...ALL], pipeline());
      const a1 = await turn('u1');
      const a2 = await turn('u1');
      const b1 = await turn('u2');
      assert.equal(a1.thread.id, a2.thread.id);
      assert.deepEqual([a1.thread.isNew, a2.thread.isNew, a1.thread.turn, a2.thread.turn], [true, false, 1, 2]);
      assert.notEqual(b1.thread.id, a1.thread.id);
      assert.equal(a1.thread.strategy, 'per-user');
      assert.equal(a1.payload, 'hi', 'the message itself is untouched');
    });

    for (const [strategy, sameChatOtherUser, sameUserOtherChat] of [
      ['per-conversation', true, false],
      ['per-message', false, false],
      ['single', true, true],
    ] as const) {
      it(`${strategy}: threads as the strategy says`, async () => {
        await load([...ALL], pipeline({ resolver: { strategy } }));
        const a = await turn('u1', 'hi', { chatId: 'group1' });
        const b = await turn('u2', 'hi', { chatId: 'group1' });
        const c = await turn('u1', 'hi', { chatId: 'group2' });
        assert.equal(a.thread.id === b.thread.id, sameChatOtherUser);
        assert.equal(a.thread.id === c.thread.id, sameUserOtherChat);
        assert.equal(a.thread.strategy, strategy);
      });
    }

    it('session expiry starts a new thread', async () => {
      await load([...ALL], pipeline({ resolver: { sessionMinutes: 0.001 } }));
      const a = await turn('u1');
      await sleep(120);
      const b = await turn('u1');
      assert.notEqual(a.thread.id, b.thread.id);
      assert.equal(b.thread.isNew, true);
    });

    it('/reset starts a new thread and answers on the reset output, not to the agent', async () => {
      await load([...ALL], pipeline());
      const agentSeen = collect('agent');
      const a = await turn('u1');
      const reset = nextMessage('resets');
      getNode('filter').receive(inbound({ userId: 'u1' }, '/reset'));
      const r = await reset;
      assert.equal(r.payload, 'thread-resolver.resetText');
      assert.equal(r.thread.reset, true);
      assert.notEqual(r.thread.id, a.thread.id);
      const b = await turn('u1');
      assert.equal(b.thread.id, r.thread.id);
      assert.equal(b.thread.turn, 1);
      assert.equal(agentSeen.length, 2, 'the agent never saw /reset');
    });

    it('passes the reset command on when asked', async () => {
      await load([...ALL], pipeline({ resolver: { passReset: true } }));
      const a = await turn('u1');
      const r = await turn('u1', '/new');
      assert.notEqual(r.thread.id, a.thread.id);
      assert.equal(r.payload, '/new');
      assert.equal(r.thread.reset, true);
    });

    it('rejects a message without an envelope with done(err) naming the field', async () => {
      await load([...ALL], pipeline());
      const errors: string[] = [];
      const resolver = getNode('resolver');
      resolver.on('call:error', (call: { firstArg: unknown }) => errors.push(String(call.firstArg)));
      resolver.receive({ payload: 'hi', chat: { platform: 'webchat' } });
      await sleep(50);
      assert.match(errors.join('\n'), /msg\.chat\.channelId/);
    });
  });

  describe('state that lasts', () => {
    for (const store of ['embedded', 'json'] as const) {
      it(`threads, allowlist, de-duplication and memory survive an unload/load of the flow (${store})`, async () => {
        await load([...ALL], pipeline({ gateway: { store } }));
        const a = await turn('u1');
        const gw = getNode('gw').gateway;
        await gw.ready;
        gw.ops.addAllowEntry('default', { jid: 'webhook:vip', label: 'VIP' });
        gw.ops.appendMemory(a.thread.id, [{ role: 'user', content: 'remember me', at: 1 }]);
        assert.equal(await gw.ops.isDuplicate('webhook', 'ch1', 'm-42'), false);
        await unload();
        const file = path.join(userDir, 'chatgate', store === 'json' ? 'gateway-gw.json' : 'gateway-gw.sqlite');
        assert.ok(fs.existsSync(file), 'state written on close');
        await load([...ALL], pipeline({ gateway: { store } }));
        const b = await turn('u1');
        assert.equal(b.thread.id, a.thread.id);
        assert.equal(b.thread.turn, 2);
        const again = getNode('gw').gateway;
        assert.deepEqual(again.allowlists.entries('default'), [{ jid: 'webhook:vip', label: 'VIP' }]);
        assert.equal(await again.ops.isDuplicate('webhook', 'ch1', 'm-42'), true);
        assert.deepEqual((await again.ops.memoryHistory(a.thread.id)).map((t: { content: string }) => t.content), ['remember me']);
      });
    }

    it('flushes within about a second of a change, without waiting for close (json)', async () => {
      await load([...ALL], pipeline({ gateway: { store: 'json' } }));
      const a = await turn('u7');
      const file = path.join(userDir, 'chatgate', 'gateway-gw.json');
      await sleep(900);
      const saved = JSON.parse(fs.readFileSync(file, 'utf8'));
      assert.ok(saved.threads.ids.includes(a.thread.id));
    });

    const dir = () => path.join(userDir, 'chatgate');
    const beside = () => fs.readdirSync(dir()).sort();
    // What the operator reads: the gateway's own catalog, not bare keys.
    const gatewayText = catalogTranslator('gateway', 'gateway');
    beforeEach(() =>
      setRedPatch((RED) => {
        const own = RED._;
        RED._ = (key: string, params?: Record<string, string>) => (key.startsWith('gateway.') ? gatewayText(key, params) : own(key, params));
      }),
    );

    it('a damaged store file is set aside under a new name, reported, and never overwritten', async () => {
      fs.mkdirSync(dir(), { recursive: true });
      fs.writeFileSync(path.join(dir(), 'gateway-gw.json'), '{"version":3,"threads":{"ids":["half a fi');
      await load([...ALL], pipeline({ gateway: { store: 'json' } }));
      const a = await turn('u1');
      assert.equal(a.thread.isNew, true);
      const gw = getNode('gw').gateway;
      const aside = beside().find((f) => /^gateway-gw\.damaged-.*\.json$/.test(f));
      assert.ok(aside, `set aside: ${beside().join(', ')}`);
      assert.equal(fs.readFileSync(path.join(dir(), aside!), 'utf8'), '{"version":3,"threads":{"ids":["half a fi', 'kept byte for byte');
      assert.match(gw.storeProblem, /could not be used/);
      assert.ok(gw.storeProblem.includes(aside!), 'the problem names where the store went');
      const listed = await helper.request().get('/chatgate/gateways');
      assert.ok(listed.body.some((g: { storeProblem?: string }) => g.storeProblem?.includes(aside!)), 'and the admin API says it');
      await gw.flush();
      assert.ok(fs.existsSync(path.join(dir(), 'gateway-gw.json')), 'the new state is saved under the old name');
      assert.equal(fs.readFileSync(path.join(dir(), aside!), 'utf8'), '{"version":3,"threads":{"ids":["half a fi');
    });

    it('a store written by a newer chatgate is set aside, not overwritten', async () => {
      fs.mkdirSync(dir(), { recursive: true });
      const newer = JSON.stringify({ version: 99, threads: { future: true } });
      fs.writeFileSync(path.join(dir(), 'gateway-gw.json'), newer);
      await load([...ALL], pipeline({ gateway: { store: 'json' } }));
      await turn('u1');
      await getNode('gw').gateway.flush();
      const aside = beside().find((f) => /^gateway-gw\.v99-.*\.json$/.test(f));
      assert.ok(aside, beside().join(', '));
      assert.equal(fs.readFileSync(path.join(dir(), aside!), 'utf8'), newer);
      assert.match(getNode('gw').gateway.storeProblem, /newer chatgate \(state version 99\)/);
    });

    it('an older store is migrated, its thread continued, and a copy of it kept', async () => {
      fs.mkdirSync(dir(), { recursive: true });
      const old = {
        version: 1,
        savedAt: Date.now(),
        threads: [{ id: 'th_old', key: 'u:webhook:ch1:u1', strategy: 'per-user', createdAt: Date.now() - 1000, lastActiveAt: Date.now() - 1000, turn: 3, sessionMs: 0, platform: 'webhook', chatJid: 'webhook:u1', userJid: 'webhook:u1' }],
        listeners: [],
        dedupe: [],
        allowlists: [],
      };
      fs.writeFileSync(path.join(dir(), 'gateway-gw.json'), JSON.stringify(old));
      await load([...ALL], pipeline({ gateway: { strategy: 'per-user', store: 'json' } }));
      const gw = getNode('gw').gateway;
      await gw.ready;
      assert.equal(gw.state.threads.size, 1);
      const again = await turn('u1');
      assert.equal(again.thread.id, 'th_old', 'the migrated thread continues');
      assert.equal(again.thread.turn, 4);
      await gw.flush();
      assert.ok(beside().includes('gateway-gw.v1.json'), beside().join(', '));
      assert.equal(JSON.parse(fs.readFileSync(path.join(dir(), 'gateway-gw.v1.json'), 'utf8')).version, 1);
      assert.equal(JSON.parse(fs.readFileSync(path.join(dir(), 'gateway-gw.json'), 'utf8')).version, 3, 'saved in the new version');
      assert.equal(gw.storeProblem, undefined);
    });

    it('a store that cannot be read at all is never written over: the gateway runs without saving and says so', async () => {
      fs.mkdirSync(path.join(dir(), 'gateway-gw.json'), { recursive: true });
      fs.writeFileSync(path.join(dir(), 'gateway-gw.json', 'keep.txt'), 'operator data');
      await load([...ALL], pipeline({ gateway: { store: 'json' } }));
      const a = await turn('u1');
      assert.equal(a.thread.isNew, true, 'the gateway still works');
      const gw = getNode('gw').gateway;
      await gw.flush();
      assert.match(gw.storeProblem, /WITHOUT saving/);
      assert.equal(fs.readFileSync(path.join(dir(), 'gateway-gw.json', 'keep.txt'), 'utf8'), 'operator data');
    });

    it('commits each change to the embedded database within a few hundred ms, without waiting for close', async () => {
      await load([...ALL], pipeline());
      const a = await turn('u7');
      await sleep(400);
      // The running gateway holds its database exclusively: read a copy of the file as it is now.
      const copy = path.join(fs.mkdtempSync(path.join(userDir, 'copy-')), 'db.sqlite');
      for (const suffix of ['', '-wal']) if (fs.existsSync(path.join(dir(), 'gateway-gw.sqlite' + suffix))) fs.copyFileSync(path.join(dir(), 'gateway-gw.sqlite' + suffix), copy + suffix);
      const db = openSqliteBackend(copy);
      try {
        const rows = db.scan('threads', '', 10).map(([, v]) => (v as string[])[0]);
        assert.deepEqual(rows, [a.thread.id]);
        const kept = db.historyMessages('webhook:u7', { limit: 5 });
        assert.deepEqual(kept.map((e) => [e.direction, e.text]), [['in', 'hi']]);
      } finally {
        db.close();
      }
    });

    it('imports the JSON store of an earlier version on first start, keeps the file under a new name, and continues its threads', async () => {
      await load([...ALL], pipeline({ gateway: { store: 'json' } }));
      const a = await turn('u1');
      getNode('gw').gateway.ops.addAllowEntry('default', { jid: 'webhook:vip' });
      await unload();
      const json = fs.readFileSync(path.join(dir(), 'gateway-gw.json'), 'utf8');
      // The flow of an earlier version said 'file': it now means the embedded database.
      await load([...ALL], pipeline({ gateway: { store: 'file' } }));
      const gw = getNode('gw').gateway;
      await gw.ready;
      assert.match(gw.storeDescription, /^sqlite .*gateway-gw\.sqlite$/);
      const b = await turn('u1');
      assert.equal(b.thread.id, a.thread.id, 'the imported thread continues');
      for (let i = 0; i < 40 && beside().some((f) => f === 'gateway-gw.json'); i++) await sleep(50);
      const kept = beside().find((f) => /^gateway-gw\.imported-.*\.json$/.test(f));
      assert.ok(kept, beside().join(', '));
      assert.equal(fs.readFileSync(path.join(dir(), kept!), 'utf8'), json, 'the JSON file is kept as it was');
      await unload();
      await load([...ALL], pipeline());
      const c = await turn('u1');
      assert.equal(c.thread.id, a.thread.id, 'and lives on in the database');
      assert.equal(c.thread.turn, 3);
      assert.deepEqual(getNode('gw').gateway.allowlists.entries('default'), [{ jid: 'webhook:vip' }]);
      assert.equal(getNode('gw').gateway.storeProblem, undefined);
    });

    it('a damaged database file is set aside byte for byte, reported, and a new one started', async () => {
      fs.mkdirSync(dir(), { recursive: true });
      const garbage = Buffer.from('SQLite format 3\u0000' + 'x'.repeat(200));
      fs.writeFileSync(path.join(dir(), 'gateway-gw.sqlite'), garbage);
      await load([...ALL], pipeline());
      const a = await turn('u1');
      assert.equal(a.thread.isNew, true);
      const gw = getNode('gw').gateway;
      const aside = beside().find((f) => /^gateway-gw\.damaged-.*\.sqlite$/.test(f));
      assert.ok(aside, beside().join(', '));
      assert.deepEqual(fs.readFileSync(path.join(dir(), aside!)), garbage);
      assert.match(gw.storeProblem, /could not be used/);
      assert.ok(gw.storeProblem.includes(aside!));
      await unload();
      await load([...ALL], pipeline());
      assert.equal((await turn('u1')).thread.id, a.thread.id, 'the new database keeps what came after');
    });

    it('falls back to the JSON file store, and says so, when SQLite cannot load on the machine', async () => {
      const Module = require('node:module') as { _load: (request: string, ...rest: unknown[]) => unknown };
      const real = Module._load;
      Module._load = function (request: string, ...rest: unknown[]) {
        if (request === 'node-sqlite3-wasm') throw new Error('WebAssembly is disabled on this machine');
        return real.call(this, request, ...rest);
      };
      try {
        await load([...ALL], pipeline());
        const a = await turn('u1');
        const gw = getNode('gw').gateway;
        assert.match(gw.storeProblem, /SQLite is unavailable.*WebAssembly is disabled.*uses the JSON file store/);
        assert.match(gw.storeDescription, /^file .*gateway-gw\.json$/);
        await gw.flush();
        assert.ok(JSON.parse(fs.readFileSync(path.join(dir(), 'gateway-gw.json'), 'utf8')).threads.ids.includes(a.thread.id));
      } finally {
        Module._load = real;
      }
    });

    it('can keep its state in a Node-RED context store instead', async () => {
      await load([...ALL], pipeline({ gateway: { store: 'context' } }));
      const a = await turn('u1');
      await getNode('gw').gateway.flush();
      const saved = await new Promise<{ threads: { ids: string[] } }>((res, rej) =>
        getNode('gw').context().global.get('chatgate_gw', (err: Error, v: { threads: { ids: string[] } }) => (err ? rej(err) : res(v))),
      );
      assert.deepEqual(saved.threads.ids, [a.thread.id]);
      assert.ok(!fs.existsSync(path.join(userDir, 'chatgate', 'gateway-gw.json')));
    });
  });

  describe('allowlist filter', () => {
    it('allowlist mode: listed sender passes, others go to output 2 with the reason', async () => {
      await load([...ALL], pipeline({ filter: { mode: 'allowlist', entries: [{ jid: 'webhook:alice', label: 'Alice' }] } }));
      const ok = await turn('alice');
      assert.equal(ok.chat.userId, 'alice');
      const refused = nextMessage('refused');
      getNode('filter').receive(inbound({ userId: 'mallory' }));
      const r = await refused;
      assert.match(r.refused.reason, /webhook:mallory/);
    });

    it('wildcards admit a platform; bots are refused unless listed', async () => {
      await load([...ALL], pipeline({ filter: { mode: 'allowlist', entries: [{ jid: 'webhook:*' }] } }));
      await turn('anyone');
      const refused = nextMessage('refused');
      getNode('filter').receive(inbound({ userId: 'robot', isBot: true }));
      assert.match((await refused).refused.reason, /bot/);
    });

    it('an editor entry * admits everyone and is not reported as invalid', async () => {
      await load([...ALL], pipeline({ filter: { mode: 'allowlist', entries: [{ jid: '*', label: 'everyone' }] } }));
      assert.equal((await turn('stranger')).chat.userId, 'stranger');
      assert.doesNotMatch(JSON.stringify(helper.log().args), /invalidEntries|ignored invalid/);
    });

    it('closed refuses everyone; drop mode drops silently', async () => {
      await load([...ALL], pipeline({ filter: { mode: 'closed', refused: 'drop', entries: [{ jid: 'webhook:alice' }] } }));
      const agent = collect('agent');
      const refused = collect('refused');
      getNode('filter').receive(inbound({ userId: 'alice' }));
      await sleep(100);
      assert.equal(agent.length + refused.length, 0);
    });

    it('is edited at runtime by msg.topic = "allowlist", and the change persists', async () => {
      await load([...ALL], pipeline({ filter: { mode: 'allowlist' } }));
      const refused = nextMessage('refused');
      getNode('filter').receive(inbound({ userId: 'bob' }));
      await refused;
      getNode('filter').receive({ topic: 'allowlist', payload: { action: 'add', jid: 'webhook:bob', label: 'Bob' } });
      await sleep(20);
      await turn('bob');
      await unload();
      await load([...ALL], pipeline({ filter: { mode: 'allowlist' } }));
      const again = await turn('bob');
      assert.equal(again.chat.userId, 'bob');
      getNode('filter').receive({ topic: 'allowlist', payload: { action: 'remove', jid: 'webhook:bob' } });
      await sleep(20);
      const r2 = nextMessage('refused');
      getNode('filter').receive(inbound({ userId: 'bob' }));
      await r2;
    });

    it('a bad control message is an error for Catch nodes', async () => {
      await load([...ALL], pipeline());
      const errors: string[] = [];
      getNode('filter').on('call:error', (c: { firstArg: unknown }) => errors.push(String(c.firstArg)));
      getNode('filter').receive({ topic: 'allowlist', payload: { action: 'add', jid: 'nonsense' } });
      await sleep(30);
      assert.match(errors.join(), /msg\.payload\.jid/);
    });
  });

  describe('reply router', () => {
    it('routes by msg.chat.replyTo to the platform output', async () => {
      await load([...ALL], pipeline());
      const a = await turn('u1');
      const out = nextMessage('wh');
      getNode('router').receive({ ...a, payload: 'reply' });
      const r = await out;
      assert.equal(r.payload, 'reply');
      assert.equal(r.chat.replyTo.chatId, 'u1');
    });

    it('routes a late reply that carries only msg.thread.id through the reply listener', async () => {
      await load([...ALL], pipeline());
      const a = await turn('u1', 'hi', { platform: 'telegram', chatId: '555' });
      const out = nextMessage('tg');
      getNode('router').receive({ payload: 'later', thread: { id: a.thread.id } });
      const r = await out;
      assert.equal(r.chat.replyTo.chatId, '555');
      assert.equal(r.chat.replyTo.platform, 'telegram');
    });

    it('says why a reply is unroutable: no address, unknown thread, expired listener', async () => {
      await load([...ALL], pipeline({ gateway: { listenerTtlMinutes: 0.001 } }));
      const warnings: string[] = [];
      getNode('router').on('call:warn', (c: { firstArg: unknown }) => warnings.push(String(c.firstArg)));
      const lost = collect('lost');
      getNode('router').receive({ payload: 'x' });
      getNode('router').receive({ payload: 'x', thread: { id: 'th_nope' } });
      const a = await turn('u1');
      await sleep(100);
      getNode('router').receive({ payload: 'x', thread: { id: a.thread.id } });
      await sleep(50);
      assert.deepEqual(
        lost.map((m) => m.unroutable.reason),
        ['no address: the reply has neither msg.chat.replyTo nor msg.thread.id', 'no reply listener for thread th_nope', `the reply listener of thread ${a.thread.id} expired`],
      );
      assert.equal(warnings.length, 3);
    });
  });

  describe('admin API', () => {
    beforeEach(() => setRedPatch(enforcePermissionsByHeader));

    it('every route checks permissions: none 401, read-only cannot write', async () => {
      await load([...ALL], pipeline());
      const app = helper.request();
      const reads = ['/chatgate/gateways', '/chatgate/gateways/gw/channels', '/chatgate/gateways/gw/threads', '/chatgate/gateways/gw/allowlist'];
      for (const url of reads) {
        await app.get(url).expect(401);
        await app.get(url).set('x-test-permissions', 'chatgate-gateway.read').expect(200);
      }
      await app.post('/chatgate/gateways/gw/allowlist').set('x-test-permissions', 'read').send({ jid: 'tg:1' }).expect(403);
      await app.delete('/chatgate/gateways/gw/allowlist/tg:1').set('x-test-permissions', 'read').expect(403);
      await app.delete('/chatgate/gateways/gw/threads/x').set('x-test-permissions', 'read').expect(403);
      await app.post('/chatgate/gateways/gw/send').set('x-test-permissions', 'read').send({ chatJid: 'webchat:u', text: 'x' }).expect(403);
      assert.ok(captured.RED);
    });

    it('lists threads paged, edits the allowlist, ends a thread', async () => {
      await load([...ALL], pipeline({ filter: { mode: 'allowlist', entries: [{ jid: 'webhook:a', label: 'A' }] } }));
      const app = () => as('read,write');
      for (const u of ['a']) await turn(u);
      await app().post('/chatgate/gateways/gw/allowlist').send({ jid: 'webhook:b', label: 'B' }).expect(200);
      const b = await turn('b');
      const list = await app().get('/chatgate/gateways/gw/allowlist').expect(200);
      assert.deepEqual(list.body.runtime, [{ jid: 'webhook:b', label: 'B' }]);
      assert.deepEqual(list.body.flow.map((e: { jid: string }) => e.jid), ['webhook:a']);
      await app().delete('/chatgate/gateways/gw/allowlist/webhook:a').expect(409);
      await app().delete(`/chatgate/gateways/gw/allowlist/${encodeURIComponent('webhook:b')}`).expect(200);
      await app().post('/chatgate/gateways/gw/allowlist').send({ jid: 'not a jid' }).expect(400);
      const threads = await app().get('/chatgate/gateways/gw/threads?limit=1&offset=0').expect(200);
      assert.equal(threads.body.total, 2);
      assert.equal(threads.body.items.length, 1);
      assert.equal(threads.body.items[0].id, b.thread.id, 'most recent first');
      await app().delete(`/chatgate/gateways/gw/threads/${b.thread.id}`).expect(200);
      await app().get('/chatgate/gateways/nope/threads').expect(404);
    });

    it('accepts * like the editor does: the filter then admits a stranger; garbage is still 400', async () => {
      await load([...ALL], pipeline({ filter: { mode: 'allowlist', entries: [] } }));
      const app = () => as('read,write');
      const refused = nextMessage('refused');
      getNode('filter').receive(inbound({ userId: 'stranger' }));
      await refused;
      const added = await app().post('/chatgate/gateways/gw/allowlist').send({ jid: '*', label: 'everyone' }).expect(200);
      assert.deepEqual(added.body.runtime, [{ jid: '*', label: 'everyone' }]);
      const ok = await turn('stranger');
      assert.equal(ok.chat.userId, 'stranger');
      for (const jid of ['**', 'tg:', 'fax:1', ' tg:1', '', 'tg', '*x']) {
        const r = await app().post('/chatgate/gateways/gw/allowlist').send({ jid }).expect(400);
        assert.match(r.body.error, /body\.jid/);
      }
      await app().post('/chatgate/gateways/gw/allowlist').send({ jid: 42 }).expect(400);
      await app().delete('/chatgate/gateways/gw/allowlist/*').expect(200);
    });

    it("the server's entry rule is the allowlist filter editor's, sample for sample", () => {
      // The editor cannot import TypeScript; run its own check (from the .html) beside the server's.
      const html = fs.readFileSync(path.resolve(__dirname, '../../nodes/allowlist-filter/allowlist-filter.html'), 'utf8');
      const expr = /return (e\.jid === '\*' \|\| \/.+\/\.test\(e\.jid\));/.exec(html)?.[1];
      assert.ok(expr, "the editor's entry check was not found in allowlist-filter.html");
      const editorAccepts = new Function('e', `return ${expr};`) as (e: { jid: string }) => boolean;
      const samples = ['*', '**', '*x', ' *', '', 'tg', 'tg:', 'tg:1', 'tg:*', 'tg:\n', 'tg:\nx', 'TG:1', ' tg:1', 'fax:1', ':1', 'slack:U1', 'discord:1', 'wa:1555', 'webhook:a:b', 'webchat:abc'];
      for (const p of Object.values(JID_PREFIX)) samples.push(`${p}:x`, `${p}:*`, `${p}:`);
      for (const jid of samples) {
        assert.equal(AllowEntrySchema.safeParse({ jid }).success, editorAccepts({ jid }), `editor and server disagree on ${JSON.stringify(jid)}`);
      }
    });

    it('send: 400 on a bad body, 409 with no out node, delivers through a registered sender', async () => {
      await load([...ALL], pipeline());
      const app = () => as('write');
      const a = await turn('u1', 'hi', { platform: 'telegram', chatId: '77' });
      await app().post('/chatgate/gateways/gw/send').send({ text: 'x' }).expect(400);
      await app().post('/chatgate/gateways/gw/send').send({ chatJid: 'fax:1', text: 'x' }).expect(400);
      await app().post('/chatgate/gateways/gw/send').send({ chatJid: 'tg:77', text: 'x' }).expect(409);
      const sent: unknown[] = [];
      getNode('gw').gateway.state.channels.addSender('fake-out', 'telegram', async (r: unknown) => void sent.push(r));
      await app().post('/chatgate/gateways/gw/send').send({ chatJid: 'tg:77', text: 'operator here' }).expect(200);
      assert.deepEqual(sent, [{ payload: 'operator here', chat: { replyTo: a.chat.replyTo } }]);
    });
  });
});
