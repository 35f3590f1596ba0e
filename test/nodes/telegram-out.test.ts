/**
 * chatgate-telegram-out in the real Node-RED runtime, with real grammy (through the bot config
 * node's connection, auto-retry and throttler) talking to the Telegram emulator. Assertions are on
 * what each chat shows: the emulator's visible message list, after edits.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startTelegramServer, type SentCall, type TelegramServer, type VisibleMessage } from '../emulators/telegram-server';
import { getNode, helper, inbound, nodeModules, sleep, unload, useUserDir, type AnyRED, type ModuleName } from '../helpers/red';

const TOKEN = '987654321:AAH-out-node-SECRET-token_0123456789';

// The helper's RED._ returns bare keys; translate with the built catalogs so the tests read the
// English an operator sees.
const LOCALES = path.resolve(__dirname, '../../dist/nodes/telegram/locales/en-US');
let catalog: Record<string, unknown> | undefined;
function translate(key: string, params: Record<string, unknown> = {}): string {
  catalog ??= Object.assign(
    {},
    ...fs
      .readdirSync(LOCALES)
      .filter((f) => f.endsWith('.json'))
      .map((f) => JSON.parse(fs.readFileSync(path.join(LOCALES, f), 'utf8'))),
  ) as Record<string, unknown>;
  const found = key.split('.').reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), catalog);
  if (typeof found !== 'string') return key;
  return found.replace(/__(\w+)__/g, (_m, p: string) => String(params[p] ?? ''));
}

type FlowNode = { id: string; type: string; [key: string]: unknown };

async function loadFlow(flow: FlowNode[], names: ModuleName[] = ['telegramBot', 'telegramOut']): Promise<void> {
  const mods = nodeModules(names).map((mod) => (RED: AnyRED) => {
    RED._ = translate;
    return mod(RED);
  });
  await helper.load(mods, flow, { bot: { token: TOKEN } });
}

function outFlow(tg: TelegramServer, out: Record<string, unknown> = {}, bot: Record<string, unknown> = {}): FlowNode[] {
  return [
    { id: 'bot', type: 'chatgate-telegram-bot', name: 'test bot', mode: 'polling', apiRoot: tg.apiRoot, throttle: true, ...bot },
    { id: 'out', type: 'chatgate-telegram-out', bot: 'bot', typing: true, replyToMessage: false, ...out },
  ];
}

/** A reply addressed to a Telegram chat, as a reply router would pass it on. */
function reply(chatId: number | string, text: string, extra: Record<string, unknown> = {}, replyTo: Record<string, unknown> = {}) {
  const msg = inbound({ platform: 'telegram', channelId: 'bot', chatId: String(chatId), userId: String(chatId) }, text);
  Object.assign(msg.chat.replyTo, replyTo);
  return { ...msg, ...extra };
}

function statuses(nodeId: string): string[] {
  const seen: string[] = [];
  getNode(nodeId).on('call:status', (call: { firstArg: { text?: string } }) => seen.push(String(call.firstArg?.text ?? '')));
  return seen;
}

/**
 * Resolves when the out node has finished `n` more whole replies (done() without an error for a
 * message that is not a typing signal or a streamed partial), or fails on its first error. Statuses
 * are coalesced, so they cannot be counted.
 */
function delivered(n = 1, ms = 10000): Promise<void> {
  const node = getNode('out');
  return new Promise((resolve, reject) => {
    let left = n;
    const timer = setTimeout(() => cleanup(new Error(`${left} of ${n} deliveries still missing after ${ms} ms`)), ms);
    // The runtime calls node._complete(msg, err) when the input handler calls done().
    const complete = node._complete;
    node._complete = function (this: unknown, msg: { event?: string; stream?: { done?: boolean } }, err?: unknown) {
      const whole = !err && msg?.event !== 'typing' && !(msg?.stream && !msg.stream.done);
      const r = complete.call(this, msg, err);
      if (whole && --left === 0) cleanup();
      return r;
    };
    const onError = (call: { args: unknown[] }) => cleanup(new Error(`delivery failed: ${String(call.args[0])}`));
    function cleanup(err?: Error) {
      clearTimeout(timer);
      delete node._complete;
      node.removeListener('call:error', onError);
      if (err) reject(err);
      else resolve();
    }
    node.on('call:error', onError);
  });
}

/** done(err) reaches node.error, which the test helper reports as a `call:error` event. */
function nextError(ms = 8000): Promise<string> {
  const n = getNode('out');
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no error at out')), ms);
    n.once('call:error', (call: { args: unknown[] }) => {
      clearTimeout(timer);
      const e = call.args[0];
      resolve(e instanceof Error ? e.message : String(e));
    });
  });
}

const botMessages = (tg: TelegramServer, chatId: number | string): VisibleMessage[] => tg.chat(chatId).filter((m) => m.fromBot);
const callsOf = (tg: TelegramServer, method: string, chatId?: number | string): SentCall[] =>
  tg.sent.filter((c) => c.method === method && (chatId === undefined || c.chat_id === String(chatId)));

/** A long reply with every kind of block: > 9000 visible characters, code blocks with unique markers. */
function longMarkdown(): { markdown: string; codes: string[] } {
  const codes: string[] = [];
  const sections: string[] = [];
  for (let s = 0; s < 8; s++) {
    const code = Array.from({ length: 18 }, (_v, i) => `const value_${s}_${i} = compute(${s}, ${i}); // step ${i} of section ${s}`).join('\n');
    codes.push(code);
    sections.push(
      [
        `## Section ${s}`,
        `This paragraph explains **part ${s}** with _emphasis_, \`inline code\` and a [link to the docs](https://example.com/docs/${s}). `.repeat(3),
        ['- first point with some words', '- second point, a bit longer than the first one', '- third point & a <tag> to escape'].join('\n'),
        '```ts\n' + code + '\n```',
        `1. numbered ${s}\n2. numbered again`,
      ].join('\n\n'),
    );
  }
  return { markdown: sections.join('\n\n'), codes };
}

describe('telegram out (real runtime, real grammy, Telegram emulator)', function () {
  this.timeout(30000);
  let tg: TelegramServer;

  beforeEach(async () => {
    useUserDir();
    tg = await startTelegramServer({ token: TOKEN });
  });
  afterEach(async () => {
    await unload();
    await tg.close();
  });

  it('splits a long Markdown reply into messages of at most 4096 visible characters, as HTML, no code block cut', async () => {
    await loadFlow(outFlow(tg));
    const { markdown, codes } = longMarkdown();
    const done = delivered();
    getNode('out').receive(reply(101, markdown));
    await done;

    const shown = botMessages(tg, 101);
    const total = shown.reduce((n, m) => n + m.text.length, 0);
    assert.ok(total > 9000, `visible text is ${total} characters`);
    assert.ok(shown.length >= 3, `${shown.length} messages`);
    for (const m of shown) {
      assert.ok(m.text.length <= 4096, `a message shows ${m.text.length} characters`);
      assert.equal(m.parseMode, 'HTML');
      assert.ok(!/<\/?(b|i|code|pre|a)\b/.test(m.text), 'markup shows as text');
    }
    // Every code block arrives whole, inside one message and covered by one pre entity.
    for (const code of codes) {
      const holder = shown.filter((m) => m.text.includes(code));
      assert.equal(holder.length, 1, 'a code block is cut');
      const at = holder[0].text.indexOf(code);
      assert.ok(
        holder[0].entities.some((e) => e.type === 'pre' && e.offset <= at && e.offset + e.length >= at + code.length),
        'the code block is not a pre entity',
      );
    }
    const entities = shown.flatMap((m) => m.entities.map((e) => e.type));
    for (const type of ['bold', 'italic', 'code', 'text_link', 'pre']) assert.ok(entities.includes(type as never), `no ${type} entity`);
    assert.ok(shown.some((m) => m.text.includes('third point & a <tag> to escape')), 'escaped text shows as written');
    // In order: section headings appear in ascending order across the messages.
    const joined = shown.map((m) => m.text).join('\n');
    const order = [...joined.matchAll(/Section (\d)/g)].map((m) => Number(m[1]));
    assert.deepEqual(order, [...order].sort((a, b) => a - b));
  });

  it('resends a part as plain text, once, when Telegram refuses its entities', async () => {
    await loadFlow(outFlow(tg));
    tg.inject.failNext('sendMessage', 1, { error_code: 400, description: "Bad Request: can't parse entities: Unsupported start tag \"x\" at byte offset 0" });
    const done = delivered();
    getNode('out').receive(reply(102, 'Hello **world**, see `code`'));
    await done;

    const shown = botMessages(tg, 102);
    assert.equal(shown.length, 1);
    assert.equal(shown[0].text, 'Hello world, see code');
    assert.equal(shown[0].parseMode, undefined);
    const sends = callsOf(tg, 'sendMessage', 102);
    assert.deepEqual(
      sends.map((c) => [c.ok, c.parse_mode]),
      [
        [false, 'HTML'],
        [true, undefined],
      ],
    );
  });

  it('edits one message as a stream grows, at most about once a second, and leaves the whole text', async () => {
    await loadFlow(outFlow(tg));
    const words = Array.from({ length: 30 }, (_v, i) => `word${i}`);
    const id = 'st_edits';
    for (let i = 0; i < words.length; i++) {
      getNode('out').receive(reply(103, words.slice(0, i + 1).join(' '), { stream: { id, seq: i, done: false } }));
      await sleep(100);
    }
    const done = delivered();
    const final = `${words.join(' ')} **done**`;
    getNode('out').receive(reply(103, final, { stream: { id, seq: words.length, done: true } }));
    await done;

    const shown = botMessages(tg, 103);
    assert.equal(shown.length, 1, 'one message for the whole stream');
    assert.equal(shown[0].text, `${words.join(' ')} done`);
    assert.ok(shown[0].entities.some((e) => e.type === 'bold'));
    const edits = callsOf(tg, 'editMessageText', 103).filter((c) => c.ok);
    assert.ok(edits.length >= 2 && edits.length <= 5, `${edits.length} edits in ~3 s`);
    const times = [callsOf(tg, 'sendMessage', 103)[0].at, ...edits.map((c) => c.at)];
    for (let i = 2; i < times.length; i++) assert.ok(times[i] - times[i - 1] >= 800, `two edits ${times[i] - times[i - 1]} ms apart`);
  });

  it('rolls a stream over into a second message past 4096 characters, ending exactly like a whole reply', async () => {
    await loadFlow(outFlow(tg));
    const paragraphs = Array.from({ length: 14 }, (_v, i) => `Paragraph ${i}: ${'lorem ipsum dolor sit amet '.repeat(18)}*end ${i}*`);
    const id = 'st_roll';
    for (let i = 0; i < paragraphs.length; i++) {
      getNode('out').receive(reply(104, paragraphs.slice(0, i + 1).join('\n\n'), { stream: { id, seq: i, done: false } }));
      await sleep(150);
    }
    const whole = paragraphs.join('\n\n');
    const done = delivered(2);
    getNode('out').receive(reply(104, whole, { stream: { id, seq: paragraphs.length, done: true } }));
    getNode('out').receive(reply(105, whole)); // the same reply, whole, to another chat
    await done;

    const streamed = botMessages(tg, 104);
    const direct = botMessages(tg, 105);
    assert.ok(streamed.length >= 2, `${streamed.length} messages`);
    assert.ok(streamed.some((m) => m.edits > 0), 'the stream edited its messages');
    assert.deepEqual(
      streamed.map((m) => [m.text, m.entities]),
      direct.map((m) => [m.text, m.entities]),
    );
  });

  it('shows typing, refreshes it while the agent works, and stops it with the reply (in the forum topic)', async () => {
    await loadFlow(outFlow(tg));
    const topic = { threadId: '7' };
    getNode('out').receive(reply(-100200, '', { event: 'typing' }, topic));
    await tg.waitFor((c) => c.method === 'sendChatAction' && c.chat_id === '-100200');
    await tg.waitFor((c) => c.method === 'sendChatAction' && callsOf(tg, 'sendChatAction', -100200).length >= 2, 6000);
    const done = delivered();
    getNode('out').receive(reply(-100200, 'here it is', {}, topic));
    await done;
    const actions = callsOf(tg, 'sendChatAction', -100200);
    assert.ok(actions.every((c) => c.action === 'typing' && c.message_thread_id === 7));
    const gap = actions[1].at - actions[0].at;
    assert.ok(gap >= 3000 && gap <= 5500, `refreshed after ${gap} ms`);
    await sleep(4500);
    assert.equal(callsOf(tg, 'sendChatAction', -100200).length, actions.length, 'typing went on after the reply');
    assert.equal(botMessages(tg, -100200)[0].threadId, 7);
  });

  it('attaches inline buttons (rows or a flat list) to the last message of a reply', async () => {
    await loadFlow(outFlow(tg));
    let done = delivered();
    getNode('out').receive(
      reply(106, 'Pick one', {
        buttons: [
          [
            { text: 'Yes', data: 'answer:yes' },
            { text: 'No', data: 'answer:no' },
          ],
          [{ text: 'Docs', url: 'https://example.com/docs' }],
        ],
      }),
    );
    await done;
    assert.deepEqual(botMessages(tg, 106)[0].replyMarkup, {
      inline_keyboard: [
        [
          { text: 'Yes', callback_data: 'answer:yes' },
          { text: 'No', callback_data: 'answer:no' },
        ],
        [{ text: 'Docs', url: 'https://example.com/docs' }],
      ],
    });

    done = delivered();
    const long = Array.from({ length: 3 }, (_v, i) => `Part ${i} ${'x'.repeat(3000)}`).join('\n\n');
    getNode('out').receive(reply(107, long, { buttons: [{ text: 'More', data: 'more' }, { text: 'Stop', data: 'stop' }] }));
    await done;
    const parts = botMessages(tg, 107);
    assert.equal(parts.length, 3);
    assert.deepEqual(
      parts.map((m) => m.replyMarkup),
      [undefined, undefined, { inline_keyboard: [[{ text: 'More', callback_data: 'more' }], [{ text: 'Stop', callback_data: 'stop' }]] }],
    );

    const failed = nextError();
    getNode('out').receive(reply(107, 'bad', { buttons: [{ text: 'x', data: 'y'.repeat(65) }] }));
    assert.match(await failed, /msg\.buttons/);
  });

  it('puts buttons under a streamed reply once it is whole', async () => {
    await loadFlow(outFlow(tg));
    getNode('out').receive(reply(108, 'thinking', { stream: { id: 'st_b', seq: 0, done: false } }));
    await tg.waitFor((c) => c.method === 'sendMessage' && c.chat_id === '108');
    const done = delivered();
    getNode('out').receive(reply(108, 'thinking done', { stream: { id: 'st_b', seq: 1, done: true }, buttons: [{ text: 'OK', data: 'ok' }] }));
    await done;
    const shown = botMessages(tg, 108);
    assert.equal(shown.length, 1);
    assert.equal(shown[0].text, 'thinking done');
    assert.deepEqual(shown[0].replyMarkup, { inline_keyboard: [[{ text: 'OK', callback_data: 'ok' }]] });
  });

  it('sends a photo with the reply as its caption, and a document with a long text after it', async () => {
    await loadFlow(outFlow(tg));
    let done = delivered();
    const png = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');
    getNode('out').receive(reply(109, 'A **chart**', { photo: png, buttons: [{ text: 'Again', data: 'again' }] }));
    await done;
    let shown = botMessages(tg, 109);
    assert.equal(shown.length, 1);
    assert.equal(shown[0].kind, 'photo');
    assert.equal(shown[0].text, 'A chart');
    assert.ok(shown[0].entities.some((e) => e.type === 'bold'));
    assert.equal(shown[0].file?.size, png.length);
    // The emulator keeps markup on the call for media messages.
    assert.deepEqual(callsOf(tg, 'sendPhoto', 109)[0].reply_markup, { inline_keyboard: [[{ text: 'Again', callback_data: 'again' }]] });

    done = delivered();
    const long = `Report:\n\n${'a fairly long line of the report. '.repeat(40)}`;
    getNode('out').receive(reply(110, long, { document: 'https://example.com/report.pdf' }));
    await done;
    shown = botMessages(tg, 110);
    assert.deepEqual(
      shown.map((m) => m.kind),
      ['document', 'text'],
    );
    assert.equal(shown[0].text, '', 'a caption over 1024 characters is not cut');
    assert.ok(shown[1].text.startsWith('Report:'));

    done = delivered();
    getNode('out').receive(reply(110, '', { document: Buffer.from('col1,col2\n1,2\n'), filename: 'data.csv' }));
    await done;
    assert.equal(botMessages(tg, 110)[2].file?.name, 'data.csv');
  });

  it('replies in the forum topic, quoting the user message in the first part when configured', async () => {
    await loadFlow(outFlow(tg, { replyToMessage: true }));
    const forum = { id: -100300, type: 'supergroup' as const, is_forum: true, title: 'Forum' };
    tg.pushUpdate(tg.make.text('question', { chat: forum, threadId: 12, messageId: 55, from: { id: 9 } }));
    const done = delivered();
    const long = `${'first part '.repeat(380)}\n\n${'second part '.repeat(100)}`;
    getNode('out').receive(reply(-100300, long, {}, { threadId: '12', messageId: '55' }));
    await done;
    const shown = botMessages(tg, -100300);
    assert.equal(shown.length, 2);
    assert.deepEqual(
      shown.map((m) => [m.threadId, m.replyTo]),
      [
        [12, 55],
        [12, undefined],
      ],
    );

    await unload();
    await loadFlow(outFlow(tg, { replyToMessage: false }));
    const plain = delivered();
    getNode('out').receive(reply(-100300, 'not quoted', {}, { threadId: '12', messageId: '55' }));
    await plain;
    const last = botMessages(tg, -100300).at(-1)!;
    assert.equal(last.replyTo, undefined);
    assert.equal(last.threadId, 12);
  });

  it('delivers a burst of 200 replies to 20 chats through 429 storms, 5xx and dropped connections: none lost, none doubled, in order', async function () {
    this.timeout(40000);
    await loadFlow(outFlow(tg));
    const chats = Array.from({ length: 20 }, (_v, i) => 1000 + i);
    const perChat = 10;
    const started = Date.now();
    const done = delivered(chats.length * perChat, 30000);
    tg.inject.failNext('sendMessage', 25, { error_code: 429, description: 'Too Many Requests: retry after 1', retry_after: 1 });
    tg.inject.failNext('sendMessage', 6, { error_code: 502, description: 'Bad Gateway' });
    tg.inject.dropConnections(3, 'sendMessage');
    for (let n = 0; n < perChat; n++) {
      for (const chat of chats) getNode('out').receive(reply(chat, `reply ${n} to chat ${chat}`));
      if (n === 4) {
        // A second storm while the queues are full.
        tg.inject.failNext('sendMessage', 25, { error_code: 429, description: 'Too Many Requests: retry after 1', retry_after: 1 });
        tg.inject.failNext('sendMessage', 4, { error_code: 500, description: 'Internal Server Error' });
      }
    }
    await done;
    const seconds = (Date.now() - started) / 1000;

    for (const chat of chats) {
      assert.deepEqual(
        botMessages(tg, chat).map((m) => m.text),
        Array.from({ length: perChat }, (_v, n) => `reply ${n} to chat ${chat}`),
        `chat ${chat}`,
      );
    }
    const refused = tg.sent.filter((c) => c.method === 'sendMessage' && !c.ok);
    const byCode = (code: number) => refused.filter((c) => c.error?.error_code === code).length;
    const dropped = tg.calls.filter((c) => c.outcome === 'dropped').length;
    assert.ok(byCode(429) >= 40, `${byCode(429)} answers were 429`);
    assert.ok(byCode(502) + byCode(500) >= 8, 'server errors were injected');
    assert.equal(dropped, 3);
    console.log(
      `      burst: ${chats.length * perChat} replies to ${chats.length} chats in ${seconds.toFixed(1)} s; ` +
        `${byCode(429)} x 429, ${byCode(502) + byCode(500)} x 5xx, ${dropped} dropped; ` +
        `${tg.sent.filter((c) => c.method === 'sendMessage' && c.ok).length} messages shown`,
    );
  });

  it('fails with done(err) naming what is wrong, and keeps the token out of logs and statuses', async () => {
    await loadFlow([...outFlow(tg), { id: 'bot2', type: 'chatgate-telegram-bot', name: 'second bot', mode: 'polling', apiRoot: tg.apiRoot }]);
    const seen = statuses('out');

    let failed = nextError();
    getNode('out').receive(reply(111, 'x', {}, { channelId: 'bot2' }));
    assert.match(await failed, /belongs to bot bot2/);

    failed = nextError();
    getNode('out').receive({ payload: 'no address' });
    assert.match(await failed, /msg\.chat/);

    failed = nextError();
    getNode('out').receive({ ...reply(111, 'x'), chat: { replyTo: { platform: 'slack', channelId: 'a', chatId: 'C1', userId: 'u' } } });
    assert.match(await failed, /replyTo\.platform: slack, not telegram/);

    failed = nextError();
    tg.inject.failNext('sendMessage', 1, { error_code: 400, description: 'Bad Request: chat not found' });
    getNode('out').receive(reply(111, 'hello'));
    assert.match(await failed, /Telegram refused the call \(400\): Bad Request: chat not found/);

    failed = nextError();
    tg.inject.failNext('sendMessage', 1, { error_code: 401, description: 'Unauthorized' });
    getNode('out').receive(reply(111, 'hello'));
    assert.match(await failed, /token/);
    assert.match(seen.at(-1) ?? '', /delivery failed: Telegram refused the bot token/);

    const logs = JSON.stringify(helper.log().args, (_k, v: unknown) => (v instanceof Error ? { message: v.message, stack: v.stack } : v));
    assert.ok(logs.includes('chat not found'), 'failures are logged');
    const secret = TOKEN.split(':')[1];
    assert.ok(!logs.includes(secret), 'a log line holds the token');
    assert.ok(!JSON.stringify(seen).includes(secret), 'a status holds the token');
    assert.equal(botMessages(tg, 111).length, 0);
  });
});

/**
 * A stand-in for the agent call: a typing signal, two streamed parts, then the final reply, as
 * chatgate-agent-call sends them (each part carries the whole text so far).
 */
function scriptedAgent(RED: AnyRED): void {
  RED.nodes.registerType('test-scripted-agent', function (this: AnyRED, def: AnyRED) {
    RED.nodes.createNode(this, def);
    this.on('input', (msg: AnyRED, send: (m: AnyRED) => void, done: () => void) => {
      const base = { chat: msg.chat, thread: msg.thread };
      const answer = `You said: **${msg.payload}**`;
      send({ ...base, payload: '', event: 'typing' });
      const id = `st_${msg.chat.messageId}`;
      setTimeout(() => send({ ...base, payload: 'You said:', stream: { id, seq: 0, done: false } }), 50);
      setTimeout(() => {
        send({ ...base, payload: answer, stream: { id, seq: 1, done: true } });
        done();
      }, 150);
    });
  });
}

describe('a Telegram agent bot flow against a Telegram-compatible server (apiRoot)', function () {
  this.timeout(20000);
  let tg: TelegramServer;

  beforeEach(async () => {
    useUserDir();
    tg = await startTelegramServer({ token: TOKEN, botUsername: 'chatgate_flow_bot' });
  });
  afterEach(async () => {
    await unload();
    await tg.close();
  });

  it('telegram in -> thread resolver -> agent -> reply router -> telegram out, and the gateway send API', async () => {
    const mods = [
      ...nodeModules(['gateway', 'telegramBot', 'telegramIn', 'threadResolver', 'replyRouter', 'telegramOut']).map((mod) => (RED: AnyRED) => {
        RED._ = translate;
        return mod(RED);
      }),
      scriptedAgent,
    ];
    const flow: FlowNode[] = [
      { id: 'gw', type: 'chatgate-gateway', name: 'main gateway', strategy: 'per-user', sessionMinutes: 1440, listenerTtlMinutes: 30, dedupeMinutes: 20, resetCommands: '/new, /reset', store: 'file' },
      { id: 'bot', type: 'chatgate-telegram-bot', name: 'flow bot', mode: 'polling', apiRoot: tg.apiRoot, pollTimeout: 1, throttle: true },
      { id: 'in', type: 'chatgate-telegram-in', bot: 'bot', gateway: 'gw', groups: 'mention', wires: [['resolver']] },
      { id: 'resolver', type: 'chatgate-thread-resolver', gateway: 'gw', strategy: '', sessionMinutes: '', passReset: false, wires: [['agent'], []] },
      { id: 'agent', type: 'test-scripted-agent', wires: [['router']] },
      { id: 'router', type: 'chatgate-reply-router', gateway: 'gw', wires: [['out'], [], [], [], [], [], []] },
      { id: 'out', type: 'chatgate-telegram-out', bot: 'bot', gateway: 'gw', typing: true, replyToMessage: true },
    ];
    await helper.load(mods, flow, { bot: { token: TOKEN } });
    await tg.nextPoll(3000);

    const done = delivered();
    tg.pushUpdate(tg.make.text('hello', { from: { id: 4242, first_name: 'Ann' }, messageId: 77 }));
    await done;
    const shown = tg.chat(4242);
    assert.deepEqual(
      shown.map((m) => [m.fromBot, m.text]),
      [
        [false, 'hello'],
        [true, 'You said: hello'],
      ],
    );
    assert.equal(shown[1].replyTo, 77, 'the reply quotes the user message');
    assert.ok(shown[1].entities.some((e) => e.type === 'bold'));
    const actions = callsOf(tg, 'sendChatAction', 4242);
    assert.ok(actions.length >= 1 && actions[0].at <= callsOf(tg, 'sendMessage', 4242)[0].at, 'typing came first');

    // The operator writes to the same chat through the gateway's admin API.
    const res = await helper.request().post('/chatgate/gateways/gw/send').send({ chatJid: 'tg:4242', text: 'An _operator_ here' });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const last = botMessages(tg, 4242).at(-1)!;
    assert.equal(last.text, 'An operator here');
    assert.ok(last.entities.some((e) => e.type === 'italic'));
    assert.ok(!JSON.stringify(res.body).includes(TOKEN));
  });
});
