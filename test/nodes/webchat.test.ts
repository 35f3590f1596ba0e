/**
 * The web chat channel end to end in the real Node-RED runtime: a page on RED.httpNode, a
 * WebSocket on RED.server, and `ws` clients standing in for visitors' browsers.
 */
import { strict as assert } from 'node:assert';
import WebSocket from 'ws';
import { WebchatHub, type ClientSocket } from '../../nodes/webchat/hub';
import { captured, collect, getNode, helper, load, nextMessage, sleep, unload, useUserDir } from '../helpers/red';
import { Visitor, type Frame } from '../helpers/webchat-visitor';

const WS = '/chat/ws';

function flow(extra: object[] = []): object[] {
  return [
    { id: 'g1', type: 'chatgate-gateway', name: 'gw' },
    { id: 'in', type: 'chatgate-webchat-in', gateway: 'g1', path: '/chat', title: 'Test <chat>', wires: [['h']] },
    { id: 'h', type: 'helper' },
    { id: 'out', type: 'chatgate-webchat-out', gateway: 'g1' },
    ...extra,
  ];
}

/** done(err) reaches node.error, which the test helper reports as a `call:error` event. */
function nextError(nodeId: string, ms = 2000): Promise<Error> {
  const n = helper.getNode(nodeId);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no error at ${nodeId}`)), ms);
    n.once('call:error', (call: { args: unknown[] }) => {
      clearTimeout(timer);
      const e = call.args[0];
      resolve(e instanceof Error ? e : new Error(String(e)));
    });
  });
}

describe('webchat in / out', function () {
  const visitors: Visitor[] = [];
  const visit = async (userId?: string) => {
    const v = await Visitor.connect(WS, userId);
    visitors.push(v);
    await v.next('hello');
    return v;
  };

  // A fresh user directory per test: the gateway's de-duplication window is persisted and outlives a flow.
  beforeEach(() => useUserDir());

  before(async function () {
    await helper.startServer();
    // The helper's server serves its own express app; route it to whichever httpNode the current flow got.
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    (helper as any)._app.use((req: any, res: any, next: any) => (captured.RED ? captured.RED.httpNode(req, res, next) : next()));
  });

  after(async function () {
    await helper.stopServer();
  });

  afterEach(async function () {
    await Promise.all(visitors.splice(0).map((v) => v.close()));
    await unload();
  });

  it('serves the page, its script and its style under the path', async function () {
    await load(['gateway', 'webchatIn', 'webchatOut'], flow());
    const page = await fetch(`${helper.url()}/chat`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    const html = await page.text();
    assert.ok(html.includes('<title>Test &#60;chat&#62;</title>'), 'the title is escaped');
    assert.ok(html.includes('src="/chat/app.js"'));
    assert.ok(html.includes('"send":"Send"'), 'page strings fall back to the English catalog');
    const js = await fetch(`${helper.url()}/chat/app.js`);
    assert.equal(js.status, 200);
    assert.match(js.headers.get('content-type') ?? '', /javascript/);
    const css = await fetch(`${helper.url()}/chat/style.css`);
    assert.equal(css.status, 200);
    assert.match(css.headers.get('content-type') ?? '', /text\/css/);
  });

  it('sends a visitor message into the flow as an envelope and acknowledges it', async function () {
    await load(['gateway', 'webchatIn', 'webchatOut'], flow());
    const v = await Visitor.connect(WS);
    visitors.push(v);
    const hello = await v.next('hello');
    assert.equal(hello.title, 'Test <chat>');
    const got = nextMessage('h');
    v.sayAs('m1', 'alice', 'hello there', { userName: 'Alice' });
    const msg = await got;
    assert.equal(msg.payload, 'hello there');
    assert.deepEqual(
      { ...msg.chat, receivedAt: undefined },
      {
        platform: 'webchat',
        channelId: 'in',
        chatId: 'alice',
        chatJid: 'webchat:alice',
        chatType: 'direct',
        userId: 'alice',
        userJid: 'webchat:alice',
        userName: 'Alice',
        isBot: false,
        messageId: 'm1',
        mentioned: true,
        attachments: [],
        receivedAt: undefined,
        replyTo: { platform: 'webchat', channelId: 'in', chatId: 'alice', messageId: 'm1', userId: 'alice' },
      },
    );
    assert.deepEqual(await v.next('ack'), { type: 'ack', id: 'm1' });
  });

  it("delivers a reply to that visitor's sockets only", async function () {
    await load(['gateway', 'webchatIn', 'webchatOut'], flow());
    const alice = await visit('alice');
    const aliceTab2 = await visit('alice');
    const bob = await visit('bob');
    const got = nextMessage('h');
    alice.sayAs('a1', 'alice', 'hi');
    const msg = await got;
    helper.getNode('out').receive({ ...msg, payload: 'reply for **alice**' });
    const r1 = await alice.next('reply');
    const r2 = await aliceTab2.next('reply');
    assert.equal(r1.text, 'reply for **alice**');
    assert.equal(r2.text, 'reply for **alice**');
    assert.equal(r1.streamId, undefined);
    await sleep(100);
    assert.deepEqual(bob.frames, [], 'bob sees nothing of alice');
  });

  it('shows typing and streams parts with their stream id', async function () {
    await load(['gateway', 'webchatIn', 'webchatOut'], flow());
    const alice = await visit('alice');
    const got = nextMessage('h');
    alice.sayAs('a1', 'alice', 'hi');
    const msg = await got;
    const out = helper.getNode('out');
    out.receive({ ...msg, event: 'typing' });
    assert.deepEqual(await alice.next('typing'), { type: 'typing' });
    out.receive({ ...msg, payload: 'Hel', stream: { id: 's1', seq: 0, done: false } });
    out.receive({ ...msg, payload: 'Hello wor', stream: { id: 's1', seq: 1, done: false } });
    out.receive({ ...msg, payload: 'Hello world', stream: { id: 's1', seq: 2, done: true } });
    const parts = [await alice.next('reply'), await alice.next('reply'), await alice.next('reply')];
    assert.deepEqual(
      parts.map((p) => [p.streamId, p.seq, p.done, p.text]),
      [
        ['s1', 0, false, 'Hel'],
        ['s1', 1, false, 'Hello wor'],
        ['s1', 2, true, 'Hello world'],
      ],
    );
  });

  it('passes a resent message on once (same client id, even over a new connection)', async function () {
    await load(['gateway', 'webchatIn', 'webchatOut'], flow());
    const seen = collect('h');
    const first = await visit('alice');
    first.sayAs('dup1', 'alice', 'once');
    await first.next('ack');
    await first.close();
    const again = await visit('alice');
    again.sayAs('dup1', 'alice', 'once');
    assert.deepEqual(await again.next('ack'), { type: 'ack', id: 'dup1' }, 'a resend is acknowledged, so the page stops resending');
    await sleep(100);
    assert.equal(seen.length, 1);
  });

  it('answers bad frames with an error frame and keeps the connection', async function () {
    await load(['gateway', 'webchatIn', 'webchatOut'], flow());
    const seen = collect('h');
    const v = await visit();
    v.ws.send('not json');
    assert.match((await v.next('error')).error, /badFrame/);
    v.ws.send(JSON.stringify({ type: 'message', id: 'x1', userId: '../etc', text: 'hi' }));
    const badUser = await v.next('error');
    assert.equal(badUser.id, 'x1', 'the page learns which message failed');
    v.sayAs('x2', 'alice', 'x'.repeat(8001));
    assert.equal((await v.next('error')).id, 'x2');
    v.sayAs('x3', 'alice', '   ');
    assert.equal((await v.next('error')).id, 'x3');
    v.ws.send(JSON.stringify({ type: 'subscribe', id: 'x4' }));
    await v.next('error');
    v.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    assert.match((await v.next('error')).error, /binary/);
    // The socket belongs to its first user; it cannot speak for someone else.
    v.sayAs('ok1', 'alice', 'fine');
    await v.next('ack');
    v.sayAs('x5', 'mallory', 'as someone else');
    assert.equal((await v.next('error')).id, 'x5');
    await sleep(50);
    assert.deepEqual(
      seen.map((m) => m.payload),
      ['fine'],
    );
  });

  it('keeps a reply for a visitor who is away and delivers it when they come back', async function () {
    await load(['gateway', 'webchatIn', 'webchatOut'], flow());
    const first = await visit('alice');
    const got = nextMessage('h');
    first.sayAs('a1', 'alice', 'hi');
    const msg = await got;
    await first.close();
    await sleep(50);
    const out = helper.getNode('out');
    out.receive({ ...msg, event: 'typing' }); // stale once the page is back: not kept
    out.receive({ ...msg, payload: 'while you were away' });
    out.receive({ ...msg, payload: 'part', stream: { id: 's9', seq: 0, done: false } });
    out.receive({ ...msg, payload: 'part and whole', stream: { id: 's9', seq: 1, done: true } });
    await sleep(50);
    const back = await Visitor.connect(WS, 'alice');
    visitors.push(back);
    await back.next('hello');
    assert.equal((await back.next('reply')).text, 'while you were away');
    const streamed = await back.next('reply');
    assert.deepEqual([streamed.streamId, streamed.text, streamed.done], ['s9', 'part and whole', true], 'only the latest part of a stream waits');
    await sleep(50);
    assert.deepEqual(back.frames, [], 'no typing frame and nothing twice');
  });

  it('fails a reply without an address, for another platform or for an unknown webchat in node', async function () {
    await load(['gateway', 'webchatIn', 'webchatOut'], flow());
    const out = helper.getNode('out');
    let err = nextError('out');
    out.receive({ payload: 'hi' });
    assert.match((await err).message, /msg\.chat/);
    const address = { platform: 'webchat', channelId: 'in', chatId: 'alice', userId: 'alice' };
    err = nextError('out');
    out.receive({ payload: 'hi', chat: { replyTo: { ...address, platform: 'telegram' } } });
    assert.match((await err).message, /msg\.chat\.replyTo\.platform/);
    err = nextError('out');
    out.receive({ payload: 'hi', chat: { replyTo: { ...address, channelId: 'gone' } } });
    assert.match((await err).message, /msg\.chat\.replyTo\.channelId/);
    err = nextError('out');
    out.receive({ payload: { nope: 1 }, chat: { replyTo: address } });
    assert.match((await err).message, /msg\.payload/);
  });

  it("lets the gateway's admin send reach a visitor through the out node", async function () {
    await load(['gateway', 'webchatIn', 'webchatOut'], flow());
    const alice = await visit('alice');
    const gw = getNode('g1').gateway;
    assert.equal(gw.state.channels.firstInbound('webchat').id, 'in');
    const send = gw.state.channels.findSender('webchat');
    await send({ payload: 'from the operator', chat: { replyTo: { platform: 'webchat', channelId: 'in', chatId: 'alice', userId: 'alice' } } });
    assert.equal((await alice.next('reply')).text, 'from the operator');
  });

  it('does not mount a second webchat in on the same path', async function () {
    await load(
      ['gateway', 'webchatIn', 'webchatOut'],
      flow([{ id: 'in2', type: 'chatgate-webchat-in', gateway: 'g1', path: '/chat/', wires: [['h']] }]),
    );
    // The status was set while the node was built; the gateway's channel registry keeps it.
    const gw = getNode('g1').gateway;
    assert.equal(gw.state.channels.get('in2').state, 'error');
    assert.match(gw.state.channels.get('in2').message, /duplicatePath/);
    assert.equal(gw.state.channels.get('in').state, 'connected');
    const seen = collect('h');
    const v = await visit('alice');
    v.sayAs('m1', 'alice', 'still works');
    await v.next('ack');
    await sleep(50);
    assert.equal(seen.length, 1, 'the first node still serves, and only once');
  });

  it('refuses to start without a gateway', async function () {
    await load(['gateway', 'webchatIn'], [{ id: 'in', type: 'chatgate-webchat-in', path: '/chat', wires: [] }]);
    const page = await fetch(`${helper.url()}/chat`);
    assert.equal(page.status, 404);
  });

  it('leaves other upgrade requests alone', async function () {
    await load(['gateway', 'webchatIn', 'webchatOut'], flow());
    const server = captured.RED.server;
    let otherSawIt = false;
    const other = (req: { url?: string }, socket: { destroy(): void }) => {
      if (req.url === '/elsewhere') {
        otherSawIt = true;
        socket.destroy();
      }
    };
    server.on('upgrade', other);
    try {
      await assert.rejects(Visitor.connect('/elsewhere'));
      assert.ok(otherSawIt);
      const v = await visit('alice');
      assert.equal(v.ws.readyState, WebSocket.OPEN);
    } finally {
      server.removeListener('upgrade', other);
    }
  });

  it('removes its routes, its upgrade listener and its sockets on close', async function () {
    const upgradeListeners = () => captured.RED?.server.listenerCount('upgrade') ?? 0;
    await load(['gateway', 'webchatIn', 'webchatOut'], flow());
    const during = upgradeListeners();
    const v = await visit('alice');
    const closed = new Promise<number>((resolve) => v.ws.once('close', (code) => resolve(code)));
    await unload();
    assert.equal(await closed, 1001);
    assert.equal(upgradeListeners(), during - 1);
    assert.equal((await fetch(`${helper.url()}/chat`)).status, 404);
    assert.equal((await fetch(`${helper.url()}/chat/app.js`)).status, 404);
    await assert.rejects(Visitor.connect(WS, undefined, 300));
    // And the path is free again for the next deploy.
    await load(['gateway', 'webchatIn', 'webchatOut'], flow());
    assert.equal((await fetch(`${helper.url()}/chat`)).status, 200);
  });
});

describe('webchat in under httpNodeRoot', function () {
  before(async function () {
    helper.settings({ userDir: useUserDir(), httpNodeRoot: '/red' });
    await helper.startServer();
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    (helper as any)._app.use('/red', (req: any, res: any, next: any) => captured.RED.httpNode(req, res, next));
  });
  after(async function () {
    await unload();
    await helper.stopServer();
    helper.settings({});
  });

  it('serves the page and the socket below httpNodeRoot', async function () {
    await load(['gateway', 'webchatIn', 'webchatOut'], flow());
    const html = await (await fetch(`${helper.url()}/red/chat`)).text();
    assert.ok(html.includes('src="/red/chat/app.js"'));
    assert.equal((await fetch(`${helper.url()}/red/chat/style.css`)).status, 200);
    await assert.rejects(Visitor.connect(WS, undefined, 300), 'not at the bare path');
    const v = await Visitor.connect(`/red${WS}`, 'alice');
    await v.next('hello');
    await v.close();
  });
});

describe('webchat hub (replies waiting for a visitor)', function () {
  const reply = (n: number) => ({ type: 'reply' as const, id: `r${n}`, text: `reply ${n}` });
  const socket = () => {
    const sent: Frame[] = [];
    const s: ClientSocket & { sent: Frame[] } = { readyState: 1, send: (d: string) => sent.push(JSON.parse(d)), sent };
    return s;
  };

  it('keeps the last 50 replies for 10 minutes and hands them to the next socket in order', function () {
    const hub = new WebchatHub('in');
    for (let i = 1; i <= 60; i++) assert.equal(hub.deliver('alice', reply(i), 1000), 'queued');
    assert.equal(hub.queued('alice'), 50);
    const s = socket();
    hub.attach('alice', s, 1000 + 10 * 60 * 1000);
    assert.deepEqual(
      s.sent.map((f) => f.id),
      Array.from({ length: 50 }, (_, i) => `r${i + 11}`),
    );
    assert.equal(hub.queued('alice'), 0);
  });

  it('forgets replies older than 10 minutes', function () {
    const hub = new WebchatHub('in');
    hub.deliver('alice', reply(1), 0);
    hub.deliver('bob', reply(2), 0);
    hub.sweep(10 * 60 * 1000 + 1);
    assert.equal(hub.queued('alice') + hub.queued('bob'), 0);
    hub.deliver('alice', reply(3), 0);
    const s = socket();
    hub.attach('alice', s, 10 * 60 * 1000 + 1);
    assert.deepEqual(s.sent, []);
  });

  it('caps how many offline visitors may have replies waiting', function () {
    const hub = new WebchatHub('in', { maxQueued: 50, queueMs: 60000, maxQueuedUsers: 2 });
    assert.equal(hub.deliver('a', reply(1), 0), 'queued');
    assert.equal(hub.deliver('b', reply(2), 0), 'queued');
    assert.equal(hub.deliver('c', reply(3), 0), 'dropped');
    assert.equal(hub.deliver('a', reply(4), 0), 'queued', 'a visitor already waiting still gets more');
  });

  it('counts users, not sockets, and skips sockets that are closing', function () {
    const hub = new WebchatHub('in');
    const counts: number[] = [];
    hub.onUsersChanged = (n) => counts.push(n);
    const tab1 = socket();
    const tab2 = socket();
    hub.attach('alice', tab1);
    hub.attach('alice', tab2);
    hub.attach('bob', socket());
    (tab2 as { readyState: number }).readyState = 2;
    assert.equal(hub.deliver('alice', reply(1)), 'sent');
    assert.equal(tab1.sent.length, 1);
    assert.equal(tab2.sent.length, 0);
    hub.detach('alice', tab1);
    hub.detach('alice', tab2);
    assert.deepEqual(counts, [1, 2, 1]);
  });
});
