/**
 * Chat history in the real Node-RED runtime: messages through a webhook flow (webhook in → thread
 * resolver → a stand-in agent → reply router → webhook out) are read back through the admin API,
 * `/chats` and `/chats/:jid/messages`, paged, bounded by the gateway's retention, behind the read
 * permission, and returned as data whatever a stranger wrote. Run with the default store (the
 * embedded database) and with the JSON file, whose history is the in-memory one.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import request from 'supertest';
import { chatsPage, messagesPage } from '../../nodes/gateway/admin-api';
import { retentionFromDef, type GatewayDef } from '../../nodes/gateway/gateway-settings';
import { DEFAULT_RETENTION, type ChatSummary, type StoredHistoryEntry } from '../../nodes/core/store/rows';
import { captured, enforcePermissionsByHeader, getNode, helper, load, setRedPatch, sleep, unload, useUserDir } from '../helpers/red';

const BASE = '/chatgate/gateways/gw';

function flow(gateway: Record<string, unknown> = {}) {
  return [
    { id: 'gw', type: 'chatgate-gateway', name: 'history', ...gateway },
    { id: 'in', type: 'chatgate-webhook-in', gateway: 'gw', path: '/hook', mode: 'sync', timeout: 5, auth: 'none', wires: [['resolver']] },
    { id: 'resolver', type: 'chatgate-thread-resolver', gateway: 'gw', strategy: '', sessionMinutes: '', passReset: false, wires: [['agent'], []] },
    { id: 'agent', type: 'helper' },
    { id: 'router', type: 'chatgate-reply-router', gateway: 'gw', wires: [[], [], [], [], ['out'], [], []] },
    { id: 'out', type: 'chatgate-webhook-out', gateway: 'gw' },
  ];
}

/** Loads the flow with an agent that answers every message `re: <text>` through the reply router. */
async function startFlow(gateway: Record<string, unknown>) {
  await load(['gateway', 'webhookIn', 'webhookOut', 'threadResolver', 'replyRouter'], flow(gateway));
  getNode('agent').on('input', (msg: { payload: string }) => getNode('router').receive({ ...msg, payload: `re: ${msg.payload}` }));
}

/** One turn as the caller sees it: the POST and its sync reply. */
async function say(userId: string, text: string, over: Record<string, unknown> = {}) {
  const res = await request(captured.RED.httpNode).post('/hook').send({ userId, text, ...over });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body as { text: string; thread: { id: string } };
}

/** Admin requests holding the given permissions (see enforcePermissionsByHeader). */
const as = (perms: string) => ({ get: (u: string) => helper.request().get(u).set('x-test-permissions', perms) });
const reader = () => as('read');

async function chats(query = ''): Promise<{ enabled: boolean; items: ChatSummary[]; next: number | null }> {
  return (await reader().get(`${BASE}/chats${query}`).expect(200).expect('content-type', /json/)).body;
}

async function messages(jid: string, query = ''): Promise<{ enabled: boolean; items: StoredHistoryEntry[]; next: number | null }> {
  return (await reader().get(`${BASE}/chats/${encodeURIComponent(jid)}/messages${query}`).expect(200).expect('content-type', /json/)).body;
}

for (const store of [undefined, 'json']) describe(`chat history through the admin API (real runtime, ${store ?? 'default'} store)`, function () {
  let userDir: string;
  const start = (gateway: Record<string, unknown> = {}) => startFlow(store ? { store, ...gateway } : gateway);
  beforeEach(() => {
    userDir = useUserDir();
    setRedPatch(enforcePermissionsByHeader);
  });
  afterEach(async () => {
    setRedPatch(undefined);
    await unload();
  });

  it('keeps every message in and out of a chat: text, direction, time, user, thread', async () => {
    await start();
    const t0 = Date.now();
    const first = await say('u1', 'hello', { chatId: 'c1', userName: 'Ann' });
    assert.equal(first.text, 're: hello');
    await say('u1', 'second', { chatId: 'c1', userName: 'Ann' });
    await sleep(5);
    await say('u2', 'other chat', { chatId: 'c2' });

    const list = await chats();
    assert.equal(list.enabled, true);
    assert.equal(list.next, null);
    assert.deepEqual(list.items.map((c) => [c.chatJid, c.platform, c.count]), [['webhook:c2', 'webhook', 2], ['webhook:c1', 'webhook', 4]]);
    assert.ok(list.items[0].lastAt >= list.items[1].lastAt);

    const page = await messages('webhook:c1');
    assert.equal(page.enabled, true);
    assert.equal(page.next, null);
    assert.deepEqual(page.items.map((m) => [m.direction, m.text]), [['out', 're: second'], ['in', 'second'], ['out', 're: hello'], ['in', 'hello']]);
    const [, secondIn, firstOut, firstIn] = page.items;
    assert.deepEqual(
      { chatJid: firstIn.chatJid, platform: firstIn.platform, userJid: firstIn.userJid, userName: firstIn.userName, threadId: firstIn.threadId },
      { chatJid: 'webhook:c1', platform: 'webhook', userJid: 'webhook:u1', userName: 'Ann', threadId: first.thread.id },
    );
    assert.equal(firstOut.threadId, first.thread.id, 'the reply carries its thread');
    assert.equal(secondIn.threadId, first.thread.id, 'one conversation, one thread');
    for (const m of page.items) assert.ok(m.at >= t0 && m.at <= Date.now(), 'a time of this run');
    const seqs = page.items.map((m) => m.seq);
    assert.deepEqual(seqs, [...seqs].sort((a, b) => b - a), 'newest first');
    assert.deepEqual((await messages('webhook:nobody')).items, []);
  });

  it('pages back with before, every message once; chats page by time the same way', async () => {
    await start({ historyPerChat: 0 });
    for (let i = 1; i <= 7; i++) await say('u1', `m${i}`, { chatId: 'c1' });
    const seen: StoredHistoryEntry[] = [];
    let next: number | null = null;
    let pages = 0;
    do {
      const page = await messages('webhook:c1', `?limit=5${next === null ? '' : `&before=${next}`}`);
      assert.ok(page.items.length <= 5);
      seen.push(...page.items);
      next = page.next;
      pages++;
    } while (next !== null);
    assert.equal(pages, 3);
    assert.equal(seen.length, 14);
    assert.equal(new Set(seen.map((m) => m.seq)).size, 14, 'no message twice');
    assert.deepEqual(seen.filter((m) => m.direction === 'in').map((m) => m.text), ['m7', 'm6', 'm5', 'm4', 'm3', 'm2', 'm1']);
    assert.deepEqual((await messages('webhook:c1', `?before=${seen[13].seq}`)).items, []);

    for (const c of ['c2', 'c3']) {
      await sleep(5);
      await say('u1', 'hi', { chatId: c });
    }
    const jids: string[] = [];
    let before: number | null = null;
    do {
      const page = await chats(`?limit=1${before === null ? '' : `&before=${before}`}`);
      jids.push(...page.items.map((c) => c.chatJid));
      before = page.next;
    } while (before !== null);
    assert.deepEqual(jids, ['webhook:c3', 'webhook:c2', 'webhook:c1']);
    assert.deepEqual((await chats('?q=c2')).items.map((c) => c.chatJid), ['webhook:c2'], 'searched by JID');
  });

  it("keeps at most the gateway's number of messages per chat, the newest", async () => {
    await start({ historyPerChat: 3 });
    for (let i = 1; i <= 3; i++) await say('u1', `m${i}`, { chatId: 'c1' });
    // The in-memory history bounds a chat as it appends; a store may leave it to the sweep.
    if (store !== 'json') getNode('gw').gateway.state.sweep();
    const page = await messages('webhook:c1');
    assert.deepEqual(page.items.map((m) => m.text), ['re: m3', 'm3', 're: m2']);
    assert.equal((await chats()).items[0].count, 3);
  });

  it('with history off keeps no text: empty answers that say so, and nothing in the store', async () => {
    await start({ historyEnabled: false });
    await say('u1', 'a secret nobody may keep', { chatId: 'c1' });
    assert.deepEqual(await chats(), { enabled: false, items: [], next: null });
    assert.deepEqual(await messages('webhook:c1'), { enabled: false, items: [], next: null });
    await getNode('gw').gateway.flush();
    const dir = path.join(userDir, 'chatgate');
    const files = fs.readdirSync(dir).filter((f) => fs.statSync(path.join(dir, f)).isFile());
    const stored = files.map((f) => fs.readFileSync(path.join(dir, f), 'latin1'));
    assert.ok(stored.length > 0, 'the gateway saved its state');
    for (const s of stored) assert.ok(!s.includes('a secret nobody may keep'), 'no text in the store');
  });

  it("is kept in the gateway's store: it survives a redeploy", async () => {
    await start();
    await say('u1', 'remember me', { chatId: 'c1' });
    await getNode('gw').gateway.flush();
    await unload();
    await start();
    assert.deepEqual((await messages('webhook:c1')).items.map((m) => m.text), ['re: remember me', 'remember me']);
    const before = (await messages('webhook:c1')).items[0].seq;
    await say('u1', 'and now', { chatId: 'c1' });
    assert.ok((await messages('webhook:c1')).items[1].seq > before, 'numbering continues after the restart');
  });

  it('both routes need the read permission', async () => {
    await start();
    for (const url of [`${BASE}/chats`, `${BASE}/chats/webhook%3Ac1/messages`]) {
      await helper.request().get(url).expect(401);
      await as('write').get(url).expect(403);
      await as('chatgate-gateway.read').get(url).expect(200);
    }
  });

  it('answers 400 naming the field on a bad query, 404 for an unknown gateway', async () => {
    await start();
    const bad: Array<[string, RegExp]> = [
      [`${BASE}/chats?limit=0`, /query\.limit/],
      [`${BASE}/chats?limit=501`, /query\.limit/],
      [`${BASE}/chats?limit=ten`, /query\.limit/],
      [`${BASE}/chats?limit=1&limit=2`, /query\.limit/],
      [`${BASE}/chats?before=-1`, /query\.before/],
      [`${BASE}/chats?before=yesterday`, /query\.before/],
      [`${BASE}/chats?q=${'x'.repeat(201)}`, /query\.q/],
      [`${BASE}/chats/webhook%3Ac1/messages?limit=-5`, /query\.limit/],
      [`${BASE}/chats/webhook%3Ac1/messages?before=1e3`, /query\.before/],
      [`${BASE}/chats/${'x'.repeat(600)}/messages`, /params\.jid/],
    ];
    for (const [url, field] of bad) {
      const res = await reader().get(url).expect(400);
      assert.match(res.body.error, field, url);
    }
    await reader().get(`${BASE}/chats?limit=500&before=0`).expect(200);
    await reader().get('/chatgate/gateways/nope/chats').expect(404);
    await reader().get('/chatgate/gateways/nope/chats/webhook%3Ac1/messages').expect(404);
  });

  it("gives a stranger's hostile text back as data, exactly as written", async () => {
    await start();
    const hostile = '<script>alert("x")</script><img src=x onerror=alert(1)> & \u202e';
    await say('u1', hostile, { chatId: 'c1', userName: '<b>Mallory</b>' });
    const res = await reader().get(`${BASE}/chats/webhook%3Ac1/messages`).expect(200).expect('content-type', /application\/json/);
    const m = (res.body.items as StoredHistoryEntry[]).find((e) => e.direction === 'in')!;
    assert.equal(m.text, hostile);
    assert.equal(m.userName, '<b>Mallory</b>');
  });
});

describe('chat history settings and pages', () => {
  it('reads the retention from the editor fields; empty or invalid fall back to the defaults', () => {
    const def = (over: Partial<GatewayDef>) => ({ id: 'gw', type: 'chatgate-gateway', z: '', name: '', ...over }) as GatewayDef;
    assert.deepEqual(retentionFromDef(def({})), DEFAULT_RETENTION, 'a flow from before these fields');
    assert.deepEqual(retentionFromDef(def({ historyEnabled: false, historyDays: '7', historyPerChat: 50 })), { enabled: false, days: 7, perChat: 50 });
    assert.deepEqual(retentionFromDef(def({ historyEnabled: 'false', historyDays: 0, historyPerChat: '0' })), { enabled: false, days: 0, perChat: 0 });
    assert.deepEqual(retentionFromDef(def({ historyEnabled: true, historyDays: '', historyPerChat: '-3' })), DEFAULT_RETENTION);
    assert.deepEqual(retentionFromDef(def({ historyDays: 'soon', historyPerChat: '12.7' })), { ...DEFAULT_RETENTION, perChat: 12 });
  });

  it('never ends a page of chats inside a run of equal times, which the next page would skip', () => {
    const c = (jid: string, lastAt: number): ChatSummary => ({ chatJid: jid, platform: 'webhook', lastAt, count: 1 });
    assert.deepEqual(chatsPage([c('a', 9), c('b', 8), c('c', 7)], 2), { items: [c('a', 9), c('b', 8)], next: 8 });
    assert.deepEqual(chatsPage([c('a', 9), c('b', 8), c('c', 8)], 2), { items: [c('a', 9)], next: 9 });
    assert.deepEqual(chatsPage([c('a', 9), c('b', 9)], 2), { items: [c('a', 9), c('b', 9)], next: null });
    assert.deepEqual(chatsPage([], 2), { items: [], next: null });
    const m = (seq: number) => ({ seq, at: seq, direction: 'in', platform: 'webhook', chatJid: 'webhook:a', text: '' }) as StoredHistoryEntry;
    assert.deepEqual(messagesPage([m(5), m(4), m(3)], 2), { items: [m(5), m(4)], next: 4 });
    assert.deepEqual(messagesPage([m(5), m(4)], 2), { items: [m(5), m(4)], next: null });
  });
});
