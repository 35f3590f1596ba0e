/**
 * Takeover and hand-off in the real Node-RED runtime: a web chat visitor talks to an agent call
 * (against the fake OpenAI server); an operator takes the thread over through the admin API, the
 * visitor's messages go to the agent call's "human" output instead of the agent, the operator's
 * reply reaches the visitor's page through the web chat out node, and after the hand-back the
 * agent answers with the human turns in its memory. Hand-off by the agent's marker and by
 * msg.handoff; idle expiry; two operators; and every route's permissions.
 */
import { strict as assert } from 'node:assert';
import { startOpenAIServer, type FakeOpenAIServer } from '../emulators/openai-server';
import { captured, collect, enforcePermissionsByHeader, getNode, helper, inbound, load, setRedPatch, sleep, unload, useUserDir, type AnyRED } from '../helpers/red';
import { Visitor } from '../helpers/webchat-visitor';
import { MAX_ID_LENGTH } from '../../nodes/core/envelope';

const BASE = '/chatgate/gateways/gw';

/** The header permissions of enforcePermissionsByHeader, and `x-test-user` as the adminAuth user. */
function permissionsAndUsers(RED: AnyRED): void {
  enforcePermissionsByHeader(RED);
  const check = RED.auth.needsPermission;
  RED.auth.needsPermission = (permission: string) => {
    const inner = check(permission);
    return (req: AnyRED, res: AnyRED, next: () => void) => {
      const user = req.headers['x-test-user'];
      if (user) req.user = { username: String(user), permissions: '*' };
      inner(req, res, next);
    };
  };
}

/** Admin requests with the given permissions, as the given user (none: adminAuth off). */
function as(perms: string | undefined, user?: string) {
  const set = (r: AnyRED) => {
    if (perms !== undefined) r.set('x-test-permissions', perms);
    if (user) r.set('x-test-user', user);
    return r;
  };
  return {
    get: (u: string) => set(helper.request().get(u)),
    post: (u: string, body: object = {}) => set(helper.request().post(u)).send(body),
    delete: (u: string) => set(helper.request().delete(u)),
  };
}
const writer = (user?: string) => as('read,write', user);

function flow(gateway: Record<string, unknown> = {}, agent: Record<string, unknown> = {}, url = '') {
  return [
    { id: 'gw', type: 'chatgate-gateway', name: 'desk', store: 'json', ...gateway },
    { id: 'in', type: 'chatgate-webchat-in', gateway: 'gw', path: '/chat', wires: [['resolver']] },
    { id: 'resolver', type: 'chatgate-thread-resolver', gateway: 'gw', strategy: 'per-conversation', sessionMinutes: '', passReset: false, wires: [['agent'], []] },
    {
      id: 'agent',
      type: 'chatgate-agent-call',
      gateway: 'gw',
      provider: 'openai',
      baseUrl: url,
      model: 'fake-model',
      stream: false,
      typing: false,
      timeout: 5,
      retries: 0,
      wires: [['router'], ['err'], ['human']],
      ...agent,
    },
    { id: 'router', type: 'chatgate-reply-router', gateway: 'gw', wires: [[], [], [], [], [], ['out'], []] },
    { id: 'out', type: 'chatgate-webchat-out', gateway: 'gw' },
    { id: 'err', type: 'helper' },
    { id: 'human', type: 'helper' },
  ];
}

const MODULES = ['gateway', 'webchatIn', 'webchatOut', 'threadResolver', 'agentCall', 'replyRouter'] as const;

/** Messages of the OpenAI request number `i`, as `role: text`. */
function sent(server: FakeOpenAIServer, i: number): string[] {
  return (server.requests[i].body.messages ?? []).map((m) => `${m.role}: ${String(m.content)}`);
}

/** The gateway node's log lines so far. */
function gatewayLog(): string[] {
  const spy = getNode('gw').log as { getCalls(): Array<{ thisValue: { id: string }; args: unknown[] }> };
  return spy
    .getCalls()
    .filter((c) => c.thisValue?.id === 'gw')
    .map((c) => String(c.args[0]));
}

async function threadOf(chatJid: string): Promise<string> {
  const res = await as('read').get(`${BASE}/threads`).expect(200);
  const found = (res.body.items as Array<{ id: string; chatJid: string }>).find((t) => t.chatJid === chatJid);
  assert.ok(found, `a thread for ${chatJid}`);
  return found.id;
}

function nextAt(nodeId: string, ms = 3000): Promise<AnyRED> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no message at ${nodeId} within ${ms} ms`)), ms);
    getNode(nodeId).once('input', (m: unknown) => {
      clearTimeout(timer);
      resolve(m);
    });
  });
}

describe('operator takeover and hand-off (real runtime, web chat, fake OpenAI server)', function () {
  this.timeout(15000);
  let server: FakeOpenAIServer;
  const visitors: Visitor[] = [];
  const visit = async (userId: string) => {
    const v = await Visitor.open('/chat/ws', userId);
    visitors.push(v);
    return v;
  };
  const start = (gateway: Record<string, unknown> = {}, agent: Record<string, unknown> = {}) => load([...MODULES], flow(gateway, agent, server.url));

  before(async () => {
    await helper.startServer();
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    (helper as any)._app.use((req: any, res: any, next: any) => (captured.RED ? captured.RED.httpNode(req, res, next) : next()));
  });
  after(async () => {
    await helper.stopServer();
  });
  beforeEach(async () => {
    useUserDir();
    setRedPatch(permissionsAndUsers);
    server = await startOpenAIServer();
  });
  afterEach(async () => {
    await Promise.all(visitors.splice(0).map((v) => v.close()));
    setRedPatch(undefined);
    await unload();
    await server.close();
  });

  it('takes a thread over: the user reaches the "human" output, the operator reaches the page, the agent gets the turns back', async () => {
    await start();
    const v = await visit('alice');
    v.say('m1', 'hello');
    assert.equal((await v.reply()).text, 'reply to "hello" (user turns: 1)');
    const thread = await threadOf('webchat:alice');

    const taken = await writer().post(`${BASE}/threads/${encodeURIComponent(thread)}/takeover`).expect(200);
    assert.equal(taken.body.takeover.operator, 'admin', 'adminAuth off: the operator is "admin"');
    assert.equal(taken.body.takeover.chatJid, 'webchat:alice');
    assert.equal(taken.body.takeover.platform, 'webchat');
    assert.ok(taken.body.takeover.expiresAt - taken.body.takeover.since === 30 * 60_000, 'the default idle time: 30 min');
    const listed = (await as('read').get(`${BASE}/threads`).expect(200)).body.items.find((t: { id: string }) => t.id === thread);
    assert.equal(listed.takeover.operator, 'admin');
    const desk = (await as('read').get(`${BASE}/operator`).expect(200)).body;
    assert.equal(desk.idleMinutes, 30);
    assert.deepEqual(desk.takeovers.map((t: { threadId: string }) => t.threadId), [thread]);
    assert.ok(gatewayLog().some((l) => l.includes(`takeover of thread ${thread}`) && l.includes('by admin')), 'the takeover is in the log');

    const human = nextAt('human');
    v.say('m2', 'I want to talk about my bill');
    const held = await human;
    assert.equal(held.payload, 'I want to talk about my bill');
    assert.equal(held.operator.state, 'takeover');
    assert.equal(held.operator.operator, 'admin');
    assert.equal(held.chat.chatJid, 'webchat:alice');
    await sleep(150);
    assert.equal(server.requests.length, 1, 'the agent was not asked');
    assert.equal(v.frames.filter((f) => f.type === 'reply').length, 0, 'and said nothing');

    await writer().post(`${BASE}/threads/${encodeURIComponent(thread)}/reply`, { text: 'Hi, **Bob** from billing here.' }).expect(200, { ok: true });
    assert.equal((await v.reply()).text, 'Hi, **Bob** from billing here.', 'the operator reply reached the page through the out node');
    const history = (await as('read').get(`${BASE}/chats/webchat%3Aalice/messages`).expect(200)).body.items;
    assert.deepEqual(history[0].direction, 'out');
    assert.equal(history[0].text, 'Hi, **Bob** from billing here.');
    assert.equal(history[0].threadId, thread);

    await writer().post(`${BASE}/threads/${encodeURIComponent(thread)}/handback`).expect(200, { ok: true });
    assert.ok(gatewayLog().some((l) => l.includes(`thread ${thread} handed back`)), 'the hand-back is in the log');
    await writer().post(`${BASE}/threads/${encodeURIComponent(thread)}/reply`, { text: 'late' }).expect(409);
    v.say('m3', 'thanks');
    assert.equal((await v.reply()).text, 'reply to "thanks" (user turns: 3)');
    assert.equal(server.requests.length, 2);
    assert.deepEqual(sent(server, 1), [
      'user: hello',
      'assistant: reply to "hello" (user turns: 1)',
      'user: I want to talk about my bill',
      'assistant: Hi, **Bob** from billing here.',
      'user: thanks',
    ]);
  });

  it('hands back by itself after the idle time, with a log line', async () => {
    await start({ takeoverIdle: 0.01 });
    const v = await visit('carol');
    v.say('m1', 'hi');
    await v.reply();
    const thread = await threadOf('webchat:carol');
    const taken = (await writer().post(`${BASE}/threads/${thread}/takeover`).expect(200)).body.takeover;
    assert.equal(taken.expiresAt - taken.since, 600);
    await sleep(1300);
    assert.deepEqual((await as('read').get(`${BASE}/operator`).expect(200)).body.takeovers, []);
    assert.ok(gatewayLog().some((l) => l.includes(`takeover of thread ${thread} by admin expired`)), gatewayLog().join('\n'));
    const human = collect('human');
    v.say('m2', 'still there?');
    assert.equal((await v.reply()).text, 'reply to "still there?" (user turns: 2)');
    assert.equal(human.length, 0);
  });

  it('one operator per thread: 409 naming the holder; hand-back and reply refused to the other', async () => {
    await start();
    const v = await visit('dave');
    v.say('m1', 'hi');
    await v.reply();
    const thread = await threadOf('webchat:dave');
    await writer('alice').post(`${BASE}/threads/${thread}/takeover`).expect(200);
    await writer('alice').post(`${BASE}/threads/${thread}/takeover`).expect(200); // taking one's own thread again is fine
    const refused = await writer('bob').post(`${BASE}/threads/${thread}/takeover`).expect(409);
    assert.equal(refused.body.operator, 'alice');
    assert.equal((await writer('bob').post(`${BASE}/threads/${thread}/handback`).expect(409)).body.operator, 'alice');
    await writer('bob').post(`${BASE}/threads/${thread}/reply`, { text: 'me too' }).expect(409);
    await writer('alice').post(`${BASE}/threads/${thread}/handback`).expect(200);
    await writer('alice').post(`${BASE}/threads/${thread}/handback`).expect(404);
    await writer('bob').post(`${BASE}/threads/${thread}/takeover`).expect(200);
  });

  it('hands off on the agent\'s marker: cut from the streamed reply, the user told, output 3 fired, the agent held back', async () => {
    await start({}, { stream: true, streamInterval: 0 });
    server.setBehavior({ reply: () => 'Let me find someone for you. [[handoff: billing dispute]]', chunks: 6 }, 1);
    const v = await visit('erin');
    const human = nextAt('human');
    v.say('m1', 'I was charged twice');
    const final = await v.reply();
    assert.equal(final.text, 'Let me find someone for you.\n\nA person will answer you here shortly.');
    for (const f of v.all) assert.ok(!String(f.text ?? '').includes('[['), `no marker on the page: ${JSON.stringify(f)}`);
    assert.ok(v.all.filter((f) => f.type === 'reply').length > 1, 'the reply was streamed');
    const page = await human;
    assert.equal(page.payload, 'I was charged twice');
    assert.equal(page.handoff.reason, 'billing dispute');
    assert.equal(page.handoff.source, 'agent');
    assert.equal(typeof page.handoff.at, 'number');
    assert.equal(page.chat.chatJid, 'webchat:erin');
    const thread = await threadOf('webchat:erin');
    assert.equal(page.thread.id, thread);
    const desk = (await as('read').get(`${BASE}/operator`).expect(200)).body;
    assert.deepEqual(desk.handoffs.map((f: { threadId: string; reason: string; source: string; chatJid: string }) => [f.threadId, f.reason, f.source, f.chatJid]), [[thread, 'billing dispute', 'agent', 'webchat:erin']]);
    const listed = (await as('read').get(`${BASE}/threads`).expect(200)).body.items.find((t: { id: string }) => t.id === thread);
    assert.equal(listed.handoff.source, 'agent');

    const heldBack = nextAt('human');
    v.say('m2', 'hello?');
    const msg = await heldBack;
    assert.equal(msg.operator.state, 'handoff');
    await sleep(100);
    assert.equal(server.requests.length, 1, 'a flagged thread waits for a person');

    await writer().delete(`${BASE}/threads/${thread}/handoff`).expect(200, { ok: true });
    await writer().delete(`${BASE}/threads/${thread}/handoff`).expect(404);
    v.say('m3', 'anyone?');
    assert.match((await v.reply()).text, /^reply to "anyone\?"/);
    assert.ok(sent(server, 1).includes('user: hello?'), 'what the user said while waiting is in the memory');
    assert.ok(sent(server, 1).includes('assistant: Let me find someone for you.\n\nA person will answer you here shortly.'));
  });

  it('taking a flagged thread over clears its flag', async () => {
    await start();
    server.setBehavior({ reply: () => '[[handoff]]' }, 1);
    const v = await visit('fay');
    v.say('m1', 'a human please');
    assert.equal((await v.reply()).text, 'A person will answer you here shortly.', 'only the marker: the hand-off text alone');
    const thread = await threadOf('webchat:fay');
    assert.equal((await as('read').get(`${BASE}/operator`).expect(200)).body.handoffs.length, 1);
    await writer().post(`${BASE}/threads/${thread}/takeover`).expect(200);
    const desk = (await as('read').get(`${BASE}/operator`).expect(200)).body;
    assert.deepEqual([desk.handoffs.length, desk.takeovers.length], [0, 1]);
  });

  it('hands off when the flow asks (msg.handoff): no agent call, the user told, output 3 fired', async () => {
    await start({}, { handoffText: 'Hold on, a colleague is coming.' });
    const v = await visit('gus');
    const human = nextAt('human');
    const turn = inbound({ platform: 'webchat', channelId: 'in', chatId: 'gus', userId: 'gus', chatJid: 'webchat:gus', userJid: 'webchat:gus' }, 'cancel my account');
    getNode('agent').receive({ ...turn, thread: { id: 'th_flow', key: 'k', strategy: 'per-conversation', isNew: true, turn: 1 }, handoff: 'cancellation' });
    const page = await human;
    assert.deepEqual([page.payload, page.handoff.reason, page.handoff.source], ['cancel my account', 'cancellation', 'flow']);
    assert.equal((await v.reply()).text, 'Hold on, a colleague is coming.');
    assert.equal(server.requests.length, 0);
    const desk = (await as('read').get(`${BASE}/operator`).expect(200)).body;
    assert.deepEqual(desk.handoffs.map((f: { threadId: string }) => f.threadId), ['th_flow']);
  });

  it('guards every operator route: 401 without a token, 403 without the permission, 400 on a bad body, 404 unknown', async () => {
    await start();
    const v = await visit('hal');
    v.say('m1', 'hi');
    await v.reply();
    const thread = await threadOf('webchat:hal');
    const writes: Array<[string, string, object?]> = [
      ['post', `${BASE}/threads/${thread}/takeover`],
      ['post', `${BASE}/threads/${thread}/reply`, { text: 'x' }],
      ['post', `${BASE}/threads/${thread}/handback`],
      ['delete', `${BASE}/threads/${thread}/handoff`],
    ];
    await as(undefined).get(`${BASE}/operator`).expect(401);
    await as('').get(`${BASE}/operator`).expect(403);
    await as('read').get(`${BASE}/operator`).expect(200);
    for (const [verb, url, body] of writes) {
      const call = (who: ReturnType<typeof as>) => (verb === 'post' ? who.post(url, body) : who.delete(url));
      await call(as(undefined)).expect(401);
      await call(as('read')).expect(403);
    }
    assert.deepEqual((await as('read').get(`${BASE}/operator`)).body.takeovers, [], 'nothing changed');
    await writer().post(`${BASE}/threads/th_nope/takeover`).expect(404);
    await writer().post(`${BASE}/threads/${'x'.repeat(MAX_ID_LENGTH + 1)}/takeover`).expect(400);
    await writer().post(`${BASE}/threads/${thread}/reply`, { text: 'x' }).expect(409); // not held
    await writer().post(`${BASE}/threads/${thread}/takeover`).expect(200);
    for (const body of [{}, { text: '' }, { text: 5 }, { text: 'x'.repeat(100_001) }]) {
      const res = await writer().post(`${BASE}/threads/${thread}/reply`, body).expect(400);
      assert.equal(typeof res.body.error, 'string');
    }
    await writer().post(`${BASE}/threads/${thread}/reply`, { text: 'x' }).expect(200);
    // The platform refuses the send: 502 with its reason, and nothing kept as said.
    getNode('gw').gateway.state.channels.addSender('out', 'webchat', async () => {
      throw new Error('the platform said no');
    });
    const failed = await writer().post(`${BASE}/threads/${thread}/reply`, { text: 'never seen' }).expect(502);
    assert.match(failed.body.error, /the platform said no/);
    // A rejection that is no Error, carrying a token: still one clean sentence.
    getNode('gw').gateway.state.channels.addSender('out', 'webchat', () => Promise.reject({ description: 'refused for Bearer sk-live-abcdefghijklmnop' }));
    const odd = await writer().post(`${BASE}/threads/${thread}/reply`, { text: 'never seen' }).expect(502);
    assert.equal(typeof odd.body.error, 'string');
    assert.match(odd.body.error, /refused for/);
    assert.ok(!odd.body.error.includes('sk-live-abcdefghijklmnop'), odd.body.error);
    assert.ok(!(await getNode('gw').gateway.ops.memoryHistory(thread)).some((t: { content: string }) => t.content === 'never seen'));
    await writer().post(`${BASE}/threads/${thread}/handback`).expect(200);
    await writer().delete(`${BASE}/threads/${thread}/handoff`).expect(404);
    await as('read').get('/chatgate/gateways/nope/operator').expect(404);
  });
});
