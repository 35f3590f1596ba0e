/**
 * Two real Node-RED processes running ONE flow against ONE real redis-server, as two instances
 * behind a load balancer would: a conversation continues whichever instance a message reaches, a
 * delivery that reaches both is answered once, a late reply produced on one instance reaches the
 * web chat page connected to the other, one instance at a time polls the Telegram bot (the other
 * takes over when the poller is killed), and a Redis restart loses and doubles nothing.
 *
 * The Telegram emulator runs in this process; each instance reaches it through its own tap, so
 * the test sees which process polls. The lease timings are the real ones (10 s TTL, 3 s renewal).
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import WebSocket from 'ws';
import { startOpenAIServer, type FakeOpenAIServer } from '../emulators/openai-server';
import { startTelegramServer, type TelegramServer } from '../emulators/telegram-server';
import { startHttpTap, type HttpTap } from '../helpers/http-tap';
import { nodeRedProcess, writeUserDir, type NodeRedProcess } from '../helpers/node-red-process';
import { startRedisServer, type RedisServer } from '../helpers/redis-server';

const TAB = 'b2b2000000000000';
const GW = 'b2b2000000000001';
const HOOK = 'b2b2000000000002';
const CHAT = 'b2b2000000000010';
const BOT = 'b2b2000000000020';
const TG_IN = 'b2b2000000000021';
const AGENT = 'b2b2000000000032';
const TOKEN = '123456789:AAmulti-instance-token_value';
const TG_USER = 5001;

/** The reply each instance gives names it, so the test sees which instance answered. */
const fn = (id: string, func: string, wires: string[][], outputs = 1) => ({ id, type: 'function', z: TAB, func, outputs, noerr: 0, initialize: '', finalize: '', libs: [], wires });

/** The flow both instances run; nodes on the tab get a place on it (Node-RED takes a node without one for a config node). */
function flow(callbackUrl: string): object[] {
  return nodesOf(callbackUrl).map((n, i) => ('z' in n ? { ...n, x: 200, y: 40 + 40 * i } : n));
}

function nodesOf(callbackUrl: string): Array<Record<string, unknown>> {
  return [
    { id: TAB, type: 'tab', label: 'two instances' },
    { id: GW, type: 'chatgate-gateway', name: 'gw', strategy: 'per-conversation', sessionMinutes: 1440, listenerTtlMinutes: 30, dedupeMinutes: 20, resetCommands: '/new', store: 'redis', redisPolicy: 'wait' },
    // A webhook channel, answered on the callback URL: "<instance> thread <id> turn <n>".
    { id: HOOK, type: 'chatgate-webhook-in', z: TAB, gateway: GW, path: '/mi/in', mode: 'async', timeout: 30, callbackUrl, auth: 'none', maxBytes: 65536, wires: [['b2b2000000000003']] },
    { id: 'b2b2000000000003', type: 'chatgate-thread-resolver', z: TAB, gateway: GW, strategy: '', sessionMinutes: '', passReset: false, wires: [['b2b2000000000004'], []] },
    fn('b2b2000000000004', "msg.payload = env.get('INSTANCE') + ' thread ' + msg.thread.id + ' turn ' + msg.thread.turn; return msg;", [['b2b2000000000005']]),
    { id: 'b2b2000000000005', type: 'chatgate-webhook-out', z: TAB, gateway: GW, wires: [] },
    // The web chat: each message is answered at once with its thread id, on the instance it reached.
    { id: CHAT, type: 'chatgate-webchat-in', z: TAB, gateway: GW, path: '/chat', title: 'two', wires: [['b2b2000000000011']] },
    { id: 'b2b2000000000011', type: 'chatgate-thread-resolver', z: TAB, gateway: GW, strategy: '', sessionMinutes: '', passReset: false, wires: [['b2b2000000000012'], []] },
    fn('b2b2000000000012', "msg.payload = 'thread ' + msg.thread.id; return msg;", [['b2b2000000000013']]),
    { id: 'b2b2000000000013', type: 'chatgate-webchat-out', z: TAB, gateway: GW, wires: [] },
    // A late reply, produced later on any instance: POST /late {threadId, text} or {threadId, streamId, parts}
    // goes through the reply router, which finds the chat by the thread's listener.
    { id: 'b2b2000000000014', type: 'http in', z: TAB, url: '/late', method: 'post', upload: false, swaggerDoc: '', wires: [['b2b2000000000015']] },
    fn(
      'b2b2000000000015',
      `const p = msg.payload;
const thread = { id: p.threadId };
if (Array.isArray(p.parts)) p.parts.forEach((text, seq) => node.send([{ payload: text, thread, stream: { id: p.streamId, seq, done: seq === p.parts.length - 1 } }, null]));
else node.send([{ payload: p.text, thread }, null]);
msg.payload = { ok: true };
return [null, msg];`,
      [['b2b2000000000016'], ['b2b2000000000017']],
      2,
    ),
    { id: 'b2b2000000000016', type: 'chatgate-reply-router', z: TAB, gateway: GW, wires: [[], [], [], [], [], ['b2b2000000000013'], []] },
    { id: 'b2b2000000000017', type: 'http response', z: TAB, statusCode: '', headers: {}, wires: [] },
    // A Telegram bot by long polling; the emulator's address comes from each process's environment.
    { id: BOT, type: 'chatgate-telegram-bot', name: 'bot', mode: 'polling', apiRoot: '${TG_API_ROOT}', pollTimeout: 5, throttle: false },
    { id: TG_IN, type: 'chatgate-telegram-in', z: TAB, bot: BOT, gateway: GW, groups: 'mention', wires: [['b2b2000000000022']] },
    fn('b2b2000000000022', "msg.payload = 'echo ' + msg.payload + ' from ' + env.get('INSTANCE'); return msg;", [['b2b2000000000023']]),
    { id: 'b2b2000000000023', type: 'chatgate-telegram-out', z: TAB, bot: BOT, gateway: GW, typing: false, wires: [] },
    // An agent call (the fake OpenAI server in this process), answered on the webhook's callback URL.
    { id: 'b2b2000000000030', type: 'chatgate-webhook-in', z: TAB, gateway: GW, path: '/mi/agent', mode: 'async', timeout: 30, callbackUrl, auth: 'none', maxBytes: 65536, wires: [['b2b2000000000031']] },
    { id: 'b2b2000000000031', type: 'chatgate-thread-resolver', z: TAB, gateway: GW, strategy: '', sessionMinutes: '', passReset: false, wires: [[AGENT], []] },
    { id: AGENT, type: 'chatgate-agent-call', z: TAB, gateway: GW, provider: 'openai', baseUrl: '${AGENT_URL}', model: 'fake-model', stream: false, typing: false, timeout: 60, retries: 0, wires: [['b2b2000000000033'], [], []] },
    { id: 'b2b2000000000033', type: 'chatgate-reply-router', z: TAB, gateway: GW, wires: [[], [], [], [], ['b2b2000000000005'], [], []] },
  ];
}

interface Callback {
  messageId?: string;
  chatId: string;
  text: string;
}

/** The webhook sender's side: the replies posted to its callback URL. */
async function callbackReceiver(): Promise<{ url: string; replies: Callback[]; close(): Promise<void> }> {
  const replies: Callback[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      replies.push(JSON.parse(body) as Callback);
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/callback`,
    replies,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

async function until<T>(what: string, check: () => T | undefined | false, ms: number): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = check();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function postJson(url: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function channels(p: NodeRedProcess): Promise<Array<{ id: string; state: string; message?: string }>> {
  return (await (await fetch(`${p.base}/chatgate/gateways/${GW}/channels`)).json()) as Array<{ id: string; state: string; message?: string }>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Frame = Record<string, any>;

/** A visitor's page: its socket and the frames it received. */
class Visitor {
  readonly frames: Frame[] = [];
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => this.frames.push(JSON.parse(String(data)) as Frame));
  }

  static async open(p: NodeRedProcess, userId: string): Promise<Visitor> {
    const v = new Visitor(new WebSocket(`${p.base.replace(/^http/, 'ws')}/chat/ws?userId=${userId}`, { handshakeTimeout: 3000 }));
    await new Promise((resolve, reject) => {
      v.ws.once('open', resolve);
      v.ws.once('error', reject);
    });
    await v.next('hello');
    return v;
  }

  next(type: string, pred: (f: Frame) => boolean = () => true, ms = 3000): Promise<Frame> {
    return until(`a ${type} frame (got ${JSON.stringify(this.frames)})`, () => {
      const i = this.frames.findIndex((f) => f.type === type && pred(f));
      return i >= 0 ? this.frames.splice(i, 1)[0] : undefined;
    }, ms);
  }

  say(id: string, userId: string, text: string): void {
    this.ws.send(JSON.stringify({ type: 'message', id, userId, text }));
  }

  close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      this.ws.once('close', () => resolve());
      this.ws.close();
    });
  }
}

describe('two Node-RED processes on one Redis', function () {
  this.timeout(120_000);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'chatgate-multi-'));
  let redis: RedisServer;
  let tg: TelegramServer;
  let cb: Awaited<ReturnType<typeof callbackReceiver>>;
  let model: FakeOpenAIServer;
  const taps: Record<string, HttpTap> = {};
  const nodes: Record<string, NodeRedProcess> = {};
  const visitors: Visitor[] = [];

  const botReplies = () => tg.chat(TG_USER).filter((m) => m.fromBot).map((m) => m.text);
  const say = (text: string) => tg.pushUpdate(tg.make.text(text, { from: { id: TG_USER, first_name: 'Tess' } }));
  /** getUpdates each instance made since `since`. */
  const polls = (since = 0) => ({ A: taps.A.count('getUpdates', since), B: taps.B.count('getUpdates', since) });
  const hook = (p: NodeRedProcess, chatId: string, messageId: string, text: string) => postJson(`${p.base}/mi/in`, { userId: chatId, chatId, messageId, text });
  const repliesTo = (messageId: string) => cb.replies.filter((r) => r.messageId === messageId);

  before(async () => {
    [redis, tg, cb, model] = await Promise.all([startRedisServer(), startTelegramServer({ token: TOKEN }), callbackReceiver(), startOpenAIServer()]);
    for (const name of ['A', 'B']) {
      taps[name] = await startHttpTap(tg.apiRoot);
      const dir = path.join(root, name);
      writeUserDir(dir, flow(cb.url), { [GW]: { redisUrl: redis.url }, [BOT]: { token: TOKEN } });
      // Heartbeats of 1.5 s looked for every 0.5 s: the default 30 s / 15 s, shortened.
      nodes[name] = await nodeRedProcess(name, dir, { INSTANCE: name, TG_API_ROOT: taps[name].url, AGENT_URL: model.url, CHATGATE_PEER_ALIVE_MS: '1500', CHATGATE_PEER_SCAN_MS: '500' });
    }
    await Promise.all([nodes.A.start(), nodes.B.start()]);
  });

  after(async () => {
    for (const v of visitors) await v.close();
    await Promise.all(Object.values(nodes).map((p) => p.stop()));
    await Promise.all([...Object.values(taps).map((t) => t.close()), tg?.close(), cb?.close(), model?.close(), redis?.stop()]);
    fs.rmSync(root, { recursive: true, force: true });
  });

  afterEach(function () {
    // What the processes said, for a failure that needs explaining.
    if (this.currentTest?.state === 'failed') for (const p of Object.values(nodes)) console.log(`--- ${p.name}:\n${p.log.join('').slice(-4000)}`);
  });

  it('one conversation: a message on A then one on B continue the same thread (turn 2 on B)', async () => {
    assert.equal((await hook(nodes.A, 'chat-x', 'x-1', 'first')).status, 202);
    const first = await until('the reply to x-1', () => repliesTo('x-1')[0], 5000);
    assert.equal((await hook(nodes.B, 'chat-x', 'x-2', 'second')).status, 202);
    const second = await until('the reply to x-2', () => repliesTo('x-2')[0], 5000);
    const [, aName, thread1, turn1] = /^(\w) thread (\S+) turn (\d+)$/.exec(first.text) ?? [];
    const [, bName, thread2, turn2] = /^(\w) thread (\S+) turn (\d+)$/.exec(second.text) ?? [];
    assert.deepEqual([aName, bName], ['A', 'B'], 'each instance answered the message it got');
    assert.equal(thread2, thread1, 'B continued the thread A started');
    assert.equal(Number(turn2), Number(turn1) + 1);
  });

  it('a delivery that reaches both instances at once is answered once (one 202, one duplicate)', async () => {
    const answers = await Promise.all([hook(nodes.A, 'chat-y', 'y-1', 'twice'), hook(nodes.B, 'chat-y', 'y-1', 'twice')]);
    const statuses = answers.map((a) => a.status).sort();
    assert.deepEqual(statuses, [200, 202]);
    assert.equal(answers.find((a) => a.status === 200)?.body.duplicate, true);
    await until('the reply to y-1', () => repliesTo('y-1')[0], 5000);
    await sleep(500);
    assert.equal(repliesTo('y-1').length, 1, 'the sender got one reply');
  });

  it('a late reply produced on B reaches the web chat page connected to A, streamed parts included', async () => {
    const page = await Visitor.open(nodes.A, 'visitor-1');
    visitors.push(page);
    page.say('w-1', 'visitor-1', 'hello');
    await page.next('ack', (f) => f.id === 'w-1');
    const threadId = String((await page.next('reply', (f) => /^thread /.test(f.text))).text).slice('thread '.length);

    assert.deepEqual((await postJson(`${nodes.B.base}/late`, { threadId, text: 'the late answer, from B' })).body, { ok: true });
    assert.equal((await page.next('reply')).text, 'the late answer, from B');

    await postJson(`${nodes.B.base}/late`, { threadId, streamId: 'st-1', parts: ['The', 'The answer', 'The answer, streamed'] });
    const parts = [await page.next('reply', (f) => f.streamId === 'st-1'), await page.next('reply', (f) => f.streamId === 'st-1'), await page.next('reply', (f) => f.streamId === 'st-1')];
    assert.deepEqual(
      parts.map((f) => [f.seq, f.text, f.done]),
      [
        [0, 'The', false],
        [1, 'The answer', false],
        [2, 'The answer, streamed', true],
      ],
      'the page saw the parts in order and the final text',
    );
    await sleep(300);
    assert.deepEqual(page.frames.filter((f) => f.type === 'reply'), [], 'nothing twice');
  });

  it('a visitor with a tab on each instance sees every reply in both, once', async () => {
    const tabA = await Visitor.open(nodes.A, 'visitor-3');
    const tabB = await Visitor.open(nodes.B, 'visitor-3');
    visitors.push(tabA, tabB);
    tabA.say('w-3', 'visitor-3', 'hello from tab A');
    const [seenA, seenB] = await Promise.all([tabA.next('reply', (f) => /^thread /.test(f.text)), tabB.next('reply', (f) => /^thread /.test(f.text))]);
    assert.equal(seenB.text, seenA.text, 'the reply produced on A shows in the tab on B');
    const threadId = String(seenA.text).slice('thread '.length);
    await postJson(`${nodes.B.base}/late`, { threadId, text: 'to both tabs' });
    assert.deepEqual([(await tabA.next('reply')).text, (await tabB.next('reply')).text], ['to both tabs', 'to both tabs']);
    await sleep(300);
    assert.deepEqual([...tabA.frames, ...tabB.frames].filter((f) => f.type === 'reply'), [], 'nothing twice');
  });

  it('a late reply for a visitor with no page open anywhere waits, and reaches the page they open next on the other instance', async () => {
    const page = await Visitor.open(nodes.A, 'visitor-2');
    page.say('w-2', 'visitor-2', 'hello');
    const threadId = String((await page.next('reply', (f) => /^thread /.test(f.text))).text).slice('thread '.length);
    await page.close();
    await sleep(300);

    await postJson(`${nodes.B.base}/late`, { threadId, text: 'while you were away' });
    const back = await Visitor.open(nodes.A, 'visitor-2');
    visitors.push(back);
    assert.equal((await back.next('reply')).text, 'while you were away');
    await sleep(300);
    assert.deepEqual(back.frames.filter((f) => f.type === 'reply'), [], 'delivered once');
  });

  it('Telegram: one instance polls; when it is killed the other takes over and every message is answered once', async () => {
    const holder = await until('an instance polling', () => (polls().A > 0 ? 'A' : polls().B > 0 ? 'B' : undefined), 10_000);
    const other = holder === 'A' ? 'B' : 'A';
    const watchFrom = Date.now();
    say('one');
    await until('the answer to "one"', () => botReplies().includes(`echo one from ${holder}`), 5000);
    await sleep(1000);
    assert.equal(polls(watchFrom)[other], 0, `${other} does not poll while ${holder} does`);
    assert.equal(taps[other].count('getUpdates'), 0, `${other} never polled`);
    const standby = (await channels(nodes[other])).find((c) => c.id === TG_IN);
    assert.deepEqual([standby?.state, standby?.message], ['stopped', 'standby (another instance polls)'], `${other}'s telegram in node says it stands by`);
    assert.equal(tg.stats.conflicts, 0, 'Telegram never saw two pollers');

    const killedAt = Date.now();
    await nodes[holder].kill();
    say('two');
    await until(`${other} polling`, () => taps[other].count('getUpdates') > 0, 16_000);
    const takeoverMs = taps[other].requests.find((r) => r.call === 'getUpdates')!.at - killedAt;
    say('three');
    await until(`the answers to "two" and "three" (bot said ${JSON.stringify(botReplies())}; ${other} called ${taps[other].requests.map((r) => r.call).join(',')})`, () => botReplies().includes(`echo three from ${other}`) && botReplies().includes(`echo two from ${other}`), 5000);
    assert.ok(takeoverMs < 15_000, `taken over in ${takeoverMs} ms`);

    // The killed instance comes back on standby: the survivor keeps polling.
    const restartedAt = Date.now();
    await nodes[holder].start();
    say('four');
    await until('the answer to "four"', () => botReplies().includes(`echo four from ${other}`), 5000);
    await sleep(1500);
    assert.equal(polls(restartedAt)[holder], 0, `${holder}, back, stands by`);
    assert.deepEqual(
      botReplies().filter((t) => t.startsWith('echo ')),
      [`echo one from ${holder}`, `echo two from ${other}`, `echo three from ${other}`, `echo four from ${other}`],
      'every message answered once',
    );
    assert.equal(tg.stats.conflicts, 0, 'never two pollers at once');
    console.log(`      lease taken over ${(takeoverMs / 1000).toFixed(1)} s after the SIGKILL of the poller (TTL 10 s, renewal 3 s)`);
  });

  it("Redis restarted (data kept): what came while it was down is answered after it returns, once each ('wait' policy)", async () => {
    const before = botReplies().length;
    await redis.kill();
    const downAt = Date.now();
    const posts = [hook(nodes.A, 'chat-z', 'z-1', 'while down 1'), hook(nodes.B, 'chat-z', 'z-2', 'while down 2'), hook(nodes.A, 'chat-w', 'z-3', 'while down 3')];
    say('five');
    say('six');
    await sleep(2500);
    assert.equal(cb.replies.filter((r) => /^z-/.test(r.messageId ?? '')).length, 0, 'nothing answered while Redis is down');
    await redis.restart();
    const upAt = Date.now();
    const answered = await Promise.all(posts);
    assert.deepEqual(answered.map((a) => a.status), [202, 202, 202], 'each held request accepted once Redis is back');
    await until('the webhook replies', () => ['z-1', 'z-2', 'z-3'].every((id) => repliesTo(id).length > 0), 10_000);
    await until('the Telegram answers', () => botReplies().some((t) => t.startsWith('echo six')) && botReplies().some((t) => t.startsWith('echo five')), 20_000);
    const backMs = Date.now() - upAt;
    await sleep(1000);
    assert.deepEqual(['z-1', 'z-2', 'z-3'].map((id) => repliesTo(id).length), [1, 1, 1], 'one reply each');
    const z = repliesTo('z-1')[0].text.split(' ');
    assert.equal(repliesTo('z-3')[0].text.split(' ')[2] !== z[2], true, 'two chats, two threads');
    const after = botReplies().slice(before);
    assert.deepEqual(after.map((t) => t.replace(/ from \w$/, '')).sort(), ['echo five', 'echo six'], 'each Telegram message answered once');
    assert.equal(tg.stats.conflicts, 0, 'never two pollers at once');
    console.log(`      Redis down ${((upAt - downAt) / 1000).toFixed(1)} s; everything answered ${(backMs / 1000).toFixed(1)} s after it returned`);
  });

  it('an instance killed during an agent turn, never back: the other tells the chat, once', async () => {
    // Both run; the model never answers A's request, so the turn is in flight when A dies.
    model.setBehavior({ hang: true }, 1);
    const asked = model.requests.length;
    const sent = await postJson(`${nodes.A.base}/mi/agent`, { userId: 'c-peer', chatId: 'c-peer', messageId: 'peer-1', text: 'will A answer?' });
    assert.equal(sent.status, 202);
    await until(`the model asked (A said: ${nodes.A.log.join('').slice(-1500)})`, () => model.requests.length > asked, 5000);
    const killedAt = Date.now();
    await nodes.A.kill();
    const told = await until(`the notice (B said: ${nodes.B.log.join('').slice(-1200)}; callbacks: ${JSON.stringify(cb.replies.filter((r) => r.chatId === 'c-peer'))})`, () => cb.replies.find((r) => r.chatId === 'c-peer'), 15_000);
    const tellMs = Date.now() - killedAt;
    assert.equal(told.text, 'Sorry, I was restarted before I could answer “will A answer?”. Please send it again.');
    await sleep(1500);
    assert.equal(cb.replies.filter((r) => r.chatId === 'c-peer').length, 1, 'told once');
    assert.ok(!nodes.B.log.join('').includes('will A answer?'), "the user's text is not in the survivor's log");
    console.log(`      agent turn of a killed instance told to its chat by the other ${(tellMs / 1000).toFixed(1)} s after the SIGKILL (heartbeat 1.5 s, looks every 0.5 s)`);
  });
});
