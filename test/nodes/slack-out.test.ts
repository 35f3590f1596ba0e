/**
 * The slack out node with the real web client against the emulator: replies in the right place
 * and in order, long replies split with every code block whole and valid mrkdwn, streamed replies
 * (native in threads, edits elsewhere) ending equal to the whole reply, the AI-app status, buttons
 * and files, and the delivery guarantees under 429 storms and lost connections: none lost, none
 * doubled, per-channel order kept.
 */
import assert from 'node:assert/strict';
import type { SlackMessage, SlackServer } from '../emulators/slack-server';
import { getNode, helper, sleep } from '../helpers/red';
import { APP_TOKEN, BOT_TOKEN, SIGNING_SECRET, appNode, delivered, everythingSaid, failure, gateway, loadFlow, slackChat, type FlowNode, startEmulator, useEmulator } from '../helpers/slack';
import { until } from '../helpers/telegram';

describe('slack out node', function () {
  this.timeout(60000);
  let slack: SlackServer;

  useEmulator(() => slack, (s) => (slack = s));

  async function start(outOver: Record<string, unknown> = {}, appOver: Record<string, unknown> = {}): Promise<void> {
    const flow: FlowNode[] = [gateway, appNode(slack.apiUrl, appOver), { id: 'out', type: 'chatgate-slack-out', app: 'app', gateway: 'gw', ...outOver }];
    await loadFlow(flow);
    await until(() => getNode('app').connection?.status.key === 'connected', 5000, 'connected');
  }

  const send = (msg: Record<string, unknown>) => getNode('out').receive(msg);
  const bot = (channel: string): SlackMessage[] => slack.channel(channel).filter((m) => m.fromBot);
  const dm = () => slackChat({ chatId: slack.fixtures.dm, userId: slack.fixtures.user, teamId: slack.team.id });
  /** A reply to a user's message in a channel: in its thread. */
  const inThread = (channel = slack.fixtures.channel) => {
    const ev = slack.make.channelMessage('a question');
    slack.deliver(ev); // it is now in the channel as a user's message
    return slackChat({ chatId: channel, userId: slack.fixtures.user, threadId: String(ev.ts), messageId: String(ev.ts), teamId: slack.team.id });
  };

  it('a long Markdown reply is split under the limit, with every code block whole and valid mrkdwn', async () => {
    await start();
    const codes: string[] = [];
    const blocks: string[] = [];
    for (let i = 0; i < 8; i++) {
      blocks.push(`## Part ${i}\n\nSome *text* with <angle brackets> & ampersands, and a [link](https://example.com/${i}). `.repeat(6));
      const code = Array.from({ length: 25 }, (_, k) => `const v${i}_${k} = "${'x'.repeat(20)}"; // <tag> & more`).join('\n');
      codes.push(code);
      blocks.push('```js\n' + code + '\n```');
    }
    blocks.push('A final word: <!channel> <@U123> <!here> must never ping anyone.');
    const markdown = blocks.join('\n\n');
    const done = delivered('out');
    send({ payload: markdown, chat: dm() });
    await done;
    const parts = bot(slack.fixtures.dm);
    assert.ok(parts.length >= 4, `${parts.length} parts`);
    for (const p of parts) assert.ok(Buffer.byteLength(p.text, 'utf8') <= 4000, `a part of ${Buffer.byteLength(p.text)} bytes`);
    for (const code of codes) assert.ok(parts.some((p) => p.visibleText.includes(code)), 'a code block is whole in one message');
    assert.deepEqual(slack.mrkdwnErrors, [], 'no unescaped < > & and no live mention');
    assert.ok(parts.at(-1)!.visibleText.includes('<!channel> <@U123> <!here>'), 'shown as text');
    const order = parts.map((p) => Number(/Part (\d)/.exec(p.visibleText)?.[1] ?? -1)).filter((n) => n >= 0);
    assert.deepEqual(order, [...order].sort(), 'the parts arrive in order');
  });

  it('a streamed reply in a thread streams natively and ends equal to the whole reply', async () => {
    await start({}, {});
    const chat = inThread();
    const words = Array.from({ length: 40 }, (_, i) => `word${i}`);
    const id = 'stream-1';
    for (let i = 0; i < words.length; i++) {
      send({ payload: words.slice(0, i + 1).join(' '), chat, stream: { id, seq: i, done: false } });
      await sleep(25);
    }
    const whole = `${words.join(' ')}\n\n**done** with <!here> inert`;
    const done = delivered('out');
    send({ payload: whole, chat, stream: { id, seq: words.length, done: true } });
    await done;
    const replies = bot(slack.fixtures.channel);
    assert.equal(replies.length, 1, 'one message');
    const m = replies[0];
    assert.equal(m.thread_ts, chat.threadId);
    assert.equal(m.streaming, 'completed');
    assert.equal(m.text, whole.replace('<!here>', '<\u200b!here>'), 'the message is the whole reply');
    assert.ok((m.chunks?.length ?? 0) >= 2, 'it grew in steps');
    assert.ok(slack.sent.some((c) => c.method === 'chat.startStream' && c.params.recipient_user_id === slack.fixtures.user && c.params.recipient_team_id === slack.team.id));
    assert.deepEqual(slack.mrkdwnErrors, []);
  });

  /** Streams `parts` growing prefixes of `whole` into `chat`, then the whole; resolves when it is delivered. */
  async function stream(chat: ReturnType<typeof slackChat>, id: string, whole: string, steps = 20, pauseMs = 30): Promise<void> {
    for (let i = 1; i <= steps; i++) {
      send({ payload: whole.slice(0, Math.floor((whole.length * i) / (steps + 1))), chat, stream: { id, seq: i - 1, done: false } });
      await sleep(pauseMs);
    }
    const done = delivered('out');
    send({ payload: whole, chat, stream: { id, seq: steps, done: true } });
    await done;
  }

  it('a native stream whose append answer was lost, or whose start answer was lost, still ends as one message equal to the whole reply', async () => {
    await start({}, {});
    const whole = Array.from({ length: 60 }, (_, i) => `token${i}`).join(' ');
    let chat = inThread();
    slack.inject.loseResponses(1, 'chat.appendStream');
    await stream(chat, 'lost-append', whole, 20, 100);
    assert.ok(slack.sent.some((c) => c.method === 'chat.appendStream' && c.outcome === 'lost'), 'an append answer was lost');
    let replies = bot(slack.fixtures.channel).filter((m) => m.thread_ts === chat.threadId);
    assert.equal(replies.length, 1);
    assert.equal(replies[0].text, whole);
    assert.ok(slack.sent.some((c) => c.method === 'chat.update' && c.params.markdown_text === whole), 'the text was replaced at the end');

    chat = inThread();
    slack.inject.loseResponses(1, 'chat.startStream');
    await stream(chat, 'lost-start', whole);
    replies = bot(slack.fixtures.channel).filter((m) => m.thread_ts === chat.threadId);
    assert.equal(replies.length, 1, 'the stream whose start answer was lost was found, not started twice');
    assert.equal(replies[0].text, whole);
  });

  it('a native stream longer than one message ends as parts that hold the whole reply', async () => {
    await start();
    const chat = inThread();
    const whole = Array.from({ length: 40 }, (_, i) => `Paragraph ${i}. ${'Some words to make it long. '.repeat(14)}`.trim()).join('\n\n');
    assert.ok(whole.length > 12000);
    await stream(chat, 'long', whole, 10, 60);
    const replies = bot(slack.fixtures.channel).filter((m) => m.thread_ts === chat.threadId);
    assert.ok(replies.length >= 4, `${replies.length} parts`);
    assert.equal(replies.map((m) => m.visibleText).join('\n\n'), whole);
    assert.ok(replies.every((m) => m.streaming === undefined), 'the streamed message was replaced by the parts');
  });

  it('a workspace that refuses native streams gets edited messages, and is not asked again', async () => {
    await start();
    slack.inject.failNext('chat.startStream', 1, { error: 'not_allowed' });
    const whole = Array.from({ length: 50 }, (_, i) => `piece${i}`).join(' ');
    const first = inThread();
    await stream(first, 'refused-1', whole);
    const second = inThread();
    await stream(second, 'refused-2', whole);
    for (const chat of [first, second]) {
      const replies = bot(slack.fixtures.channel).filter((m) => m.thread_ts === chat.threadId);
      assert.equal(replies.length, 1);
      assert.equal(replies[0].visibleText, whole);
    }
    assert.equal(slack.sent.filter((c) => c.method === 'chat.startStream').length, 1, 'asked once');
  });

  it('a streamed reply at the top of a DM is one message edited as it grows, ending equal to the whole reply', async () => {
    await start();
    const chat = dm();
    const id = 'stream-2';
    const sentences = Array.from({ length: 30 }, (_, i) => `Sentence number ${i} is here.`);
    for (let i = 0; i < sentences.length; i++) {
      send({ payload: sentences.slice(0, i + 1).join(' '), chat, stream: { id, seq: i, done: false } });
      await sleep(40);
    }
    const whole = sentences.join(' ');
    const done = delivered('out');
    send({ payload: whole, chat, stream: { id, seq: sentences.length, done: true } });
    await done;
    const replies = bot(slack.fixtures.dm);
    assert.equal(replies.length, 1);
    assert.equal(replies[0].visibleText, whole);
    assert.ok(replies[0].edits >= 1, 'edited in place');
    assert.equal(slack.sent.filter((c) => c.method === 'chat.startStream').length, 0, 'no native stream outside a thread');
  });

  it('an edited stream rolls over at the limit and the messages hold the whole reply', async () => {
    await start({ streaming: 'edit' });
    const chat = inThread();
    const paragraphs = Array.from({ length: 12 }, (_, i) => `Paragraph ${i}: ${'lorem ipsum '.repeat(55)}`.trim());
    const id = 'stream-3';
    for (let i = 0; i < paragraphs.length; i++) {
      send({ payload: paragraphs.slice(0, i + 1).join('\n\n'), chat, stream: { id, seq: i, done: false } });
      await sleep(60);
    }
    const done = delivered('out');
    send({ payload: paragraphs.join('\n\n'), chat, stream: { id, seq: paragraphs.length, done: true } });
    await done;
    const replies = bot(slack.fixtures.channel);
    assert.ok(replies.length >= 2, 'rolled over');
    assert.equal(replies.map((m) => m.visibleText).join('\n\n'), paragraphs.join('\n\n'));
    for (const m of replies) assert.equal(m.thread_ts, chat.threadId);
  });

  it('while the agent works, an AI-app thread shows "is thinking…" and the reply clears it; elsewhere nothing is called', async () => {
    await start();
    const thread = slack.make.assistantThreadStarted();
    slack.deliver(thread);
    const t = thread.assistant_thread as { channel_id: string; thread_ts: string };
    const chat = slackChat({ chatId: t.channel_id, userId: slack.fixtures.user, threadId: t.thread_ts, teamId: slack.team.id });
    send({ payload: '', chat, event: 'typing' });
    await slack.waitFor((c) => c.method === 'assistant.threads.setStatus' && c.ok, 5000);
    assert.equal(slack.assistantThread(t.channel_id, t.thread_ts)?.status, 'is thinking…');
    const done = delivered('out');
    send({ payload: 'here you go', chat });
    await done;
    assert.equal(slack.assistantThread(t.channel_id, t.thread_ts)?.status, '', 'cleared by the reply');
    await sleep(200);
    const statuses = slack.assistantThread(t.channel_id, t.thread_ts)?.statusHistory ?? [];
    assert.equal(statuses.at(-1), '', 'and not set again after it');

    const before = slack.sent.filter((c) => c.method === 'assistant.threads.setStatus').length;
    send({ payload: '', chat: inThread(), event: 'typing' });
    send({ payload: '', chat: dm(), event: 'typing' });
    await sleep(300);
    assert.equal(slack.sent.filter((c) => c.method === 'assistant.threads.setStatus').length, before, 'no typing API for bots outside AI-app threads');
  });

  it('buttons become an actions block under the reply text', async () => {
    await start();
    const chat = inThread();
    const done = delivered('out');
    send({ payload: 'Pick a colour:', chat, buttons: [[{ text: 'Red', data: 'red' }, { text: 'Blue', data: 'blue' }], [{ text: 'Docs', url: 'https://example.com' }]] });
    await done;
    const m = bot(slack.fixtures.channel)[0];
    const blocks = m.blocks as Array<Record<string, unknown>>;
    assert.equal(blocks[0].type, 'section');
    assert.equal((blocks[0].text as { text: string }).text, 'Pick a colour:');
    assert.deepEqual(
      blocks.slice(1).map((b) => (b.elements as Array<{ value?: string; url?: string }>).map((e) => e.value ?? e.url)),
      [['red', 'blue'], ['https://example.com']],
    );
    assert.equal(m.text, 'Pick a colour:', 'the text is the notification fallback');

    const only = delivered('out');
    send({ payload: '', chat, buttons: [{ text: 'Again', data: '/new' }] });
    await only;
    const last = bot(slack.fixtures.channel).at(-1)!;
    assert.deepEqual((last.blocks as Array<{ type: string }>).map((b) => b.type), ['actions'], 'buttons alone, no empty section');
    assert.equal(last.text, 'Again', 'the notification names the button');

    const bad = failure('out');
    send({ payload: 'x', chat, buttons: [{ text: '', data: 'x' }] });
    assert.match(await bad, /msg\.buttons/);
  });

  it('a file goes up with files.uploadV2 into the thread of the reply', async () => {
    await start();
    const chat = inThread();
    const data = Buffer.from('name,score\nada,10\n');
    const done = delivered('out');
    send({ payload: 'Here is the table.', chat, file: data, filename: 'scores.csv', title: 'Scores' });
    await done;
    const messages = bot(slack.fixtures.channel);
    assert.equal(messages.length, 2);
    assert.equal(messages[0].visibleText, 'Here is the table.');
    const f = messages[1].files?.[0];
    assert.equal(f?.name, 'scores.csv');
    assert.equal(f?.title, 'Scores');
    assert.equal(messages[1].thread_ts, chat.threadId);
    assert.ok(slack.file(f!.id)?.data.equals(data));
  });

  it('a post whose answer is lost is posted once; one whose connection dropped is posted once too', async () => {
    await start();
    slack.inject.loseResponses(1, 'chat.postMessage');
    let done = delivered('out');
    send({ payload: 'lost answer', chat: dm() });
    await done;
    slack.inject.dropConnections(1, 'chat.postMessage');
    done = delivered('out');
    send({ payload: 'dropped connection', chat: dm() });
    await done;
    slack.inject.failNext('chat.postMessage', 1, { status: 503 });
    done = delivered('out');
    send({ payload: 'a 503', chat: dm() });
    await done;
    assert.deepEqual(
      bot(slack.fixtures.dm).map((m) => m.visibleText),
      ['lost answer', 'dropped connection', 'a 503'],
    );
  });

  it('a burst of 200 replies to 20 channels under 429 storms and dropped connections: none lost, none doubled, each channel in order', async () => {
    await start();
    const channels = Array.from({ length: 20 }, (_, i) => slack.addChannel({ name: `burst-${i}` }).id);
    slack.inject.failNext('chat.postMessage', 40, { status: 429, retryAfter: 1 });
    const all = delivered('out', 200, 50000);
    for (let i = 0; i < 10; i++) {
      if (i === 3) slack.inject.dropConnections(8, 'chat.postMessage');
      if (i === 5) slack.inject.loseResponses(8, 'chat.postMessage');
      if (i === 7) slack.inject.failNext('*', 20, { status: 429, retryAfter: 1 });
      for (const c of channels) send({ payload: `${c} reply ${i}`, chat: slackChat({ chatId: c, userId: slack.fixtures.user }) });
    }
    await all;
    for (const c of channels) {
      const shown = bot(c).map((m) => m.visibleText);
      assert.deepEqual(shown, Array.from({ length: 10 }, (_, i) => `${c} reply ${i}`), `channel ${c}`);
    }
    const outcomes = slack.sent.filter((c) => c.method === 'chat.postMessage').map((c) => c.outcome);
    assert.ok(outcomes.includes('lost') && outcomes.includes('dropped') && outcomes.filter((o) => o === 'error').length >= 40, 'the faults happened');
  });

  it('200 mentions in 20 channels while the socket drops and turns deaf: each answered exactly once, in its thread', async () => {
    await slack.close();
    slack = await startEmulator({ ackTimeoutMs: 1000 });
    // An echo bot: the in node wired straight to the out node.
    await loadFlow([gateway, appNode(slack.apiUrl), { id: 'in', type: 'chatgate-slack-in', app: 'app', gateway: 'gw', wires: [['out']] }, { id: 'out', type: 'chatgate-slack-out', app: 'app', gateway: 'gw' }]);
    await slack.waitForSockets((s) => s.openSockets === 1, 5000);
    const channels = Array.from({ length: 20 }, (_, i) => slack.addChannel({ name: `busy-${i}` }).id);
    const asked = new Map<string, string>();
    for (let i = 0; i < 10; i++) {
      if (i === 3) slack.inject.dropSockets();
      if (i === 6) {
        await slack.waitForSockets((s) => s.connections >= 2 && s.openSockets === 1, 5000);
        slack.inject.zombieSockets();
      }
      if (i === 8) slack.inject.failNext('chat.postMessage', 30, { status: 429, retryAfter: 1 });
      for (const c of channels) {
        const [message, mention] = slack.make.mention(`question ${i} in ${c}`, { channel: c });
        asked.set(String(message.ts), `question ${i} in ${c}`);
        slack.deliver([message, mention]);
      }
      await sleep(30);
    }
    await until(() => channels.every((c) => bot(c).length >= 10), 40000, 'every question answered');
    await sleep(1500);
    for (const c of channels) {
      const answers = bot(c);
      assert.equal(answers.length, 10, `channel ${c} got ${answers.length} answers`);
      for (const a of answers) assert.equal(a.visibleText, asked.get(String(a.thread_ts)), 'the answer is in the thread of its question');
    }
    assert.ok(slack.stats.connections >= 3, 'the socket was replaced twice');
  });

  it('a 429 longer than the rate-limit wait fails the reply with a plain error, and nothing is posted', async () => {
    await start({}, { maxRateWait: 1 });
    slack.inject.failNext('chat.postMessage', 1, { status: 429, retryAfter: 5 });
    const err = failure('out');
    send({ payload: 'too slow', chat: dm() });
    assert.match(await err, /kept answering 429/);
    assert.equal(bot(slack.fixtures.dm).length, 0);
  });

  it('says what is wrong with a reply: another platform, a bad channel id, a thread that is no ts', async () => {
    await start();
    let err = failure('out');
    send({ payload: 'x', chat: { ...dm(), replyTo: { ...dm().replyTo, platform: 'telegram' } } });
    assert.match(await err, /not slack/);
    err = failure('out');
    send({ payload: 'x', chat: { ...dm(), replyTo: { ...dm().replyTo, chatId: 'general' } } });
    assert.match(await err, /not a Slack channel/);
    err = failure('out');
    send({ payload: 'x', chat: { ...dm(), replyTo: { ...dm().replyTo, threadId: 'yesterday' } } });
    assert.match(await err, /not a Slack thread ts/);
    err = failure('out');
    send({ payload: 'x' });
    assert.match(await err, /msg\.chat/);
  });

  it('a revoked token fails the reply with a plain error and the status says so; no token anywhere', async () => {
    await start();
    slack.inject.revokeToken({ token: 'bot', error: 'token_revoked' });
    const err = failure('out');
    send({ payload: 'x', chat: dm() });
    assert.match(await err, /refused the bot token \(token_revoked\)/);
    await until(() => everythingSaid('out').some((l) => l.includes('Slack refused the bot token (token_revoked)')), 3000, 'the status');
    assert.equal(slack.sent.filter((c) => c.method === 'chat.postMessage').length, 1, 'not retried');
    const said = everythingSaid('out').join('\n');
    for (const secret of [BOT_TOKEN, APP_TOKEN, SIGNING_SECRET]) assert.ok(!said.includes(secret));
  });

  it("the gateway's admin send API delivers through the slack out node", async () => {
    await loadFlow([gateway, appNode(slack.apiUrl), { id: 'in', type: 'chatgate-slack-in', app: 'app', gateway: 'gw', wires: [[]] }, { id: 'out', type: 'chatgate-slack-out', app: 'app', gateway: 'gw' }]);
    await slack.waitForSockets((st) => st.openSockets === 1, 5000);
    const res = await helper.request().post('/chatgate/gateways/gw/send').send({ chatJid: `slack:${slack.fixtures.channel}`, text: 'An operator here & <now>' });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const m = bot(slack.fixtures.channel).at(-1)!;
    assert.equal(m.visibleText, 'An operator here & <now>');
    assert.deepEqual(slack.mrkdwnErrors, []);
  });

  it('answers a top-level DM in a thread when asked to', async () => {
    await start({ dmThreads: true });
    const ev = slack.make.dm('question');
    slack.deliver(ev);
    const chat = slackChat({ chatId: slack.fixtures.dm, userId: slack.fixtures.user, messageId: String(ev.ts) });
    const done = delivered('out');
    send({ payload: 'threaded answer', chat });
    await done;
    assert.equal(bot(slack.fixtures.dm)[0].thread_ts, ev.ts);
  });
});
