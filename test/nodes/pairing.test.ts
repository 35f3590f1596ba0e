/**
 * Pairing end to end in the real Node-RED runtime: a stranger on the web chat gets a code and
 * nothing else, the operator approves it (admin API or `/pair` from an admin chat), and the
 * stranger's next message passes.
 */
import { strict as assert } from 'node:assert';
import WebSocket from 'ws';
import { collect, enforcePermissionsByHeader, getNode, helper, inbound, load, setRedPatch, sleep, unload, useUserDir } from '../helpers/red';
import { useHttpServer } from '../helpers/discord';
import { until } from '../helpers/telegram';

const BASE = '/chatgate/gateways/gw';
const TEXT = 'This bot is private. Your pairing code is {code} — send it to the person who runs it.';
const CODE = /[A-Z2-9]{4}-[A-Z2-9]{4}/;

class Visitor {
  readonly replies: string[] = [];
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (d) => {
      const f = JSON.parse(String(d)) as { type: string; text?: string };
      if (f.type === 'reply') this.replies.push(f.text!);
    });
  }
  static async open(userId: string): Promise<Visitor> {
    const ws = new WebSocket(`${helper.url().replace(/^http/, 'ws')}/pc/ws?userId=${userId}`);
    await new Promise((r, j) => (ws.once('open', r), ws.once('error', j)));
    return new Visitor(ws);
  }
  private n = 0;
  say(userId: string, text: string): void {
    this.ws.send(JSON.stringify({ type: 'message', id: `m${++this.n}x${Date.now()}`, userId, text, userName: userId === 'stranger' ? 'Stan' : undefined }));
  }
  close(): void {
    this.ws.close();
  }
}

function flow(filter: object = {}, gateway: object = {}): object[] {
  return [
    { id: 'gw', type: 'chatgate-gateway', name: 'Secret Bot Name', ...gateway },
    { id: 'wc', type: 'chatgate-webchat-in', gateway: 'gw', path: '/pc', wires: [['filter']] },
    { id: 'filter', type: 'chatgate-allowlist-filter', gateway: 'gw', mode: 'pairing', matchOn: 'sender', entries: [{ jid: 'webchat:friend', label: 'Friend' }], admins: 'webchat:boss', pairingText: TEXT, pairedText: 'Welcome aboard, Stan.', wires: [['agent'], ['refused']], ...filter },
    { id: 'agent', type: 'helper' },
    { id: 'refused', type: 'helper' },
    { id: 'out', type: 'chatgate-webchat-out', gateway: 'gw' },
  ];
}

const as = (p: string) => ({ 'x-test-permissions': p });

describe('allowlist filter: pairing mode', function () {
  useHttpServer();
  const visitors: Visitor[] = [];
  const visit = async (id: string) => {
    const v = await Visitor.open(id);
    visitors.push(v);
    return v;
  };
  beforeEach(() => {
    useUserDir();
    setRedPatch(enforcePermissionsByHeader);
  });
  afterEach(async () => {
    visitors.splice(0).forEach((v) => v.close());
    setRedPatch(undefined);
    await unload();
  });

  async function strangerCode(): Promise<{ v: Visitor; code: string; agent: unknown[]; refused: Array<{ refused: { reason: string } }> }> {
    await load(['gateway', 'webchatIn', 'webchatOut', 'allowlistFilter'], flow());
    const agent = collect('agent');
    const refused = collect('refused');
    const v = await visit('stranger');
    v.say('stranger', 'hello, who are you?');
    await until(() => v.replies.length === 1, 3000, 'the code reply');
    const code = CODE.exec(v.replies[0])![0];
    return { v, code, agent, refused };
  }

  it('a stranger gets only the fixed text with a code; nothing reaches the agent; the code is pending', async () => {
    const { v, code, agent, refused } = await strangerCode();
    assert.equal(v.replies[0], TEXT.replace('{code}', code));
    assert.ok(!v.replies[0].includes('friend') && !v.replies[0].includes('Secret Bot Name') && !v.replies[0].includes('boss'));
    await sleep(100);
    assert.equal(agent.length, 0);
    assert.equal(refused.length, 1);
    assert.equal(refused[0].refused.reason, 'pairing');
    const list = await helper.request().get(`${BASE}/pairings`).set(as('read')).expect(200);
    assert.deepEqual(list.body.items.map((i: { code: string; jid: string; userName: string; list: string }) => [i.code, i.jid, i.userName, i.list]), [[code, 'webchat:stranger', 'Stan', 'default']]);
    // A listed sender passes as in allowlist mode.
    const f = await visit('friend');
    f.say('friend', 'hi');
    await until(() => agent.length === 1, 2000, 'the friend passes');
  });

  it('rate limit: a second message gets no second code; the gateway log never shows the code', async () => {
    const { v, code, refused } = await strangerCode();
    v.say('stranger', 'hello again');
    await until(() => refused.length === 2, 2000, 'the second message refused');
    await sleep(200);
    assert.equal(v.replies.length, 1);
    assert.equal(getNode('gw').gateway.pairings.size, 1);
    const logged = JSON.stringify(helper.log().args);
    assert.ok(!logged.includes(code), 'the code is not in the Node-RED log');
  });

  it('approving through the admin API lets the stranger in with a label; 401/403/404/400 otherwise', async () => {
    const { v, code, agent } = await strangerCode();
    const url = `${BASE}/pairings/${code.toLowerCase()}/approve`;
    await helper.request().post(url).send({}).expect(401);
    await helper.request().post(url).set(as('read')).send({}).expect(403);
    await helper.request().get(`${BASE}/pairings`).expect(401);
    await helper.request().get(`${BASE}/pairings`).set(as('write')).expect(403);
    await helper.request().delete(`${BASE}/pairings/${code}`).set(as('read')).expect(403);
    await helper.request().post(url).set(as('write')).send({ label: 42 }).expect(400);
    await helper.request().post(url).set(as('write')).send({ label: 'x'.repeat(201) }).expect(400);
    await helper.request().post(`${BASE}/pairings/AAAA-AAAA/approve`).set(as('write')).send({}).expect(404);
    await helper.request().post(`/chatgate/gateways/nope/pairings/${code}/approve`).set(as('write')).send({}).expect(404);
    const ok = await helper.request().post(url).set(as('write')).send({ label: 'Stan the visitor' }).expect(200);
    assert.deepEqual(ok.body, { jid: 'webchat:stranger', list: 'default', label: 'Stan the visitor', told: true });
    // The stranger hears they are in, in the chat their code went to (the filter's Approved reply).
    await until(() => v.replies.length === 2, 2000, 'the welcome');
    assert.equal(v.replies[1], 'Welcome aboard, Stan.');
    await helper.request().post(url).set(as('write')).send({}).expect(404);
    assert.deepEqual(getNode('gw').gateway.allowlists.entries('default'), [{ jid: 'webchat:stranger', label: 'Stan the visitor' }]);
    v.say('stranger', 'now?');
    await until(() => agent.length === 1, 2000, 'the stranger passes');
  });

  it('deny: 200 once, then 404; the stranger stays out', async () => {
    const { code } = await strangerCode();
    await helper.request().delete(`${BASE}/pairings/${code}`).expect(401);
    await helper.request().delete(`${BASE}/pairings/${code}`).set(as('write')).expect(200, { ok: true });
    await helper.request().delete(`${BASE}/pairings/${code}`).set(as('write')).expect(404);
    assert.deepEqual(getNode('gw').gateway.allowlists.entries('default'), []);
  });

  it("the gateway's pairing settings: a denied stranger gets no second code when one a day is allowed; the code lives its minutes", async () => {
    await load(['gateway', 'webchatIn', 'webchatOut', 'allowlistFilter'], flow({}, { pairingMinutes: 5, pairingPerDay: 1 }));
    const refused = collect('refused');
    const v = await visit('stranger');
    v.say('stranger', 'let me in');
    await until(() => v.replies.length === 1, 3000, 'the code reply');
    const [pending] = (await helper.request().get(`${BASE}/pairings`).set(as('read')).expect(200)).body.items;
    assert.ok(Math.abs(pending.expiresAt - pending.requestedAt - 5 * 60_000) < 1000, `a five-minute code: ${pending.expiresAt - pending.requestedAt} ms`);
    await helper.request().delete(`${BASE}/pairings/${pending.code}`).set(as('write')).expect(200);
    v.say('stranger', 'again?');
    await until(() => refused.length === 2, 2000, 'the second message refused');
    await sleep(150);
    assert.equal(v.replies.length, 1, 'no second code today');
  });

  it('/pair CODE from an admin chat approves it, with a confirmation and nothing to the agent; the default label is the name', async () => {
    const { v, code, agent, refused } = await strangerCode();
    const boss = await visit('boss');
    boss.say('boss', `/pair ${code.replace('-', ' ').toLowerCase()}`);
    await until(() => boss.replies.length === 1, 2000, 'the confirmation');
    // The helper's RED._ answers catalog keys: the key is the confirmation's.
    assert.equal(boss.replies[0], 'allowlist-filter.pairing.approved');
    await until(() => v.replies.length === 2, 2000, 'the welcome');
    assert.equal(v.replies[1], 'Welcome aboard, Stan.');
    assert.deepEqual(getNode('gw').gateway.allowlists.entries('default'), [{ jid: 'webchat:stranger', label: 'Stan' }]);
    assert.equal(agent.length, 0);
    assert.equal(refused.length, 1);
    v.say('stranger', 'in?');
    await until(() => agent.length === 1, 2000, 'the stranger passes');
    // The same code a second time: no such code.
    boss.say('boss', `/pair ${code}`);
    await until(() => boss.replies.length === 2, 2000, 'the second answer');
    assert.equal(boss.replies[1], 'allowlist-filter.pairing.unknown');
  });

  it("a non-admin's /pair is a message like any other: refused, and the code stays pending", async () => {
    const { code, agent } = await strangerCode();
    const other = await visit('other');
    other.say('other', `/pair ${code}`);
    await until(() => other.replies.length === 1, 2000, "the other's own code");
    assert.notEqual(CODE.exec(other.replies[0])![0], code);
    assert.equal(agent.length, 0);
    assert.deepEqual(getNode('gw').gateway.allowlists.entries('default'), []);
    assert.ok(getNode('gw').gateway.pairings.get(code));
  });

  it('an expired code is refused by the API and by /pair', async () => {
    const { code } = await strangerCode();
    const book = getNode('gw').gateway.pairings;
    const real = book.now;
    book.now = () => real() + 60 * 60 * 1000 + 1;
    await helper.request().post(`${BASE}/pairings/${code}/approve`).set(as('write')).send({}).expect(404);
    const boss = await visit('boss');
    boss.say('boss', `/pair ${code}`);
    await until(() => boss.replies.length === 1, 2000, 'the answer');
    assert.equal(boss.replies[0], 'allowlist-filter.pairing.unknown');
    assert.deepEqual(getNode('gw').gateway.allowlists.entries('default'), []);
    const list = await helper.request().get(`${BASE}/pairings`).set(as('read')).expect(200);
    assert.deepEqual(list.body.items, []);
  });

  it('no code for chatter in a group that does not address the bot, nor for a bot; matchOn chat approves the chat', async () => {
    await load(['gateway', 'webchatIn', 'webchatOut', 'allowlistFilter'], flow({ matchOn: 'chat' }));
    const refused = collect('refused');
    const book = getNode('gw').gateway.pairings;
    getNode('filter').receive(inbound({ platform: 'webchat', channelId: 'wc', userId: 'g1', chatId: 'room', chatType: 'group', mentioned: false }));
    getNode('filter').receive(inbound({ platform: 'webchat', channelId: 'wc', userId: 'robot', isBot: true }));
    await until(() => refused.length === 2, 2000, 'both refused');
    assert.equal(book.size, 0);
    assert.notEqual(refused[0].refused.reason, 'pairing');
    const v = await visit('room');
    getNode('filter').receive(inbound({ platform: 'webchat', channelId: 'wc', userId: 'g1', chatId: 'room', chatType: 'group', mentioned: true }));
    await until(() => v.replies.length === 1, 2000, 'the code, in the group');
    assert.deepEqual(book.list().map((r: { jid: string }) => r.jid), ['webchat:room']);
  });
});
