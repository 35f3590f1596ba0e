/**
 * The slack in node with real @slack/bolt over Socket Mode against the emulator: what passes (DMs,
 * mentions, threads the app takes part in, slash commands, buttons, files), what does not (other
 * channels' chatter, bots, the app itself, malformed payloads), and that every message passes once
 * however often Slack sends it (the message/app_mention twins, Socket Mode redeliveries).
 */
import assert from 'node:assert/strict';
import type { SlackServer } from '../emulators/slack-server';
import { collect, getNode, nextMessage, sleep, unload } from '../helpers/red';
import { appNode, everythingSaid, gateway, loadFlow, type FlowNode, startEmulator, useEmulator } from '../helpers/slack';
import { until } from '../helpers/telegram';

describe('slack in node', function () {
  this.timeout(20000);
  let slack: SlackServer;

  useEmulator(() => slack, (s) => (slack = s));

  function flow(inOver: Record<string, unknown> = {}, appOver: Record<string, unknown> = {}): FlowNode[] {
    return [
      gateway,
      appNode(slack.apiUrl, appOver),
      { id: 'in', type: 'chatgate-slack-in', app: 'app', gateway: 'gw', wires: [['h']], ...inOver },
      { id: 'h', type: 'helper' },
      { id: 'out', type: 'chatgate-slack-out', app: 'app', gateway: 'gw' },
    ];
  }

  async function start(inOver: Record<string, unknown> = {}, appOver: Record<string, unknown> = {}): Promise<void> {
    await loadFlow(flow(inOver, appOver));
    await slack.waitForSockets((s) => s.openSockets === 1, 5000);
    await until(() => getNode('app').connection?.status.key === 'socket', 5000, 'socket connected');
  }

  /** Sends `msg` into the out node (the tests then look for it in Slack). */
  async function reply(msg: Record<string, unknown>): Promise<void> {
    getNode('out').receive(msg);
  }

  it('a direct message enters as a direct chat and the reply lands in the DM', async () => {
    await start();
    const got = nextMessage('h', 5000);
    slack.deliver(slack.make.dm('hello there'));
    const msg = await got;
    assert.equal(msg.payload, 'hello there');
    assert.equal(msg.chat.platform, 'slack');
    assert.equal(msg.chat.chatType, 'direct');
    assert.equal(msg.chat.chatId, slack.fixtures.dm);
    assert.equal(msg.chat.userId, slack.fixtures.user);
    assert.equal(msg.chat.userJid, `slack:${slack.fixtures.user}`);
    assert.equal(msg.chat.channelId, 'app');
    assert.equal(msg.chat.threadId, undefined, 'a top-level DM is the DM itself');
    assert.equal(msg.chat.replyTo.teamId, slack.team.id);
    assert.equal(msg.slack.type, 'message');

    await reply({ payload: 'hi Alice', chat: msg.chat });
    const answer = await slack.waitForMessage(slack.fixtures.dm, (m) => m.fromBot, 5000);
    assert.equal(answer.visibleText, 'hi Alice');
    assert.equal(answer.thread_ts, undefined);
  });

  it('a mention in a channel passes once (message + app_mention twins) and is answered in its thread', async () => {
    await start();
    const seen = collect('h');
    const [message, mention] = slack.make.mention('what is the weather?');
    const deliveries = slack.deliver([message, mention]);
    await Promise.all(deliveries.map((d) => d.waitAck()));
    await until(() => seen.length >= 1, 3000, 'the mention');
    await sleep(200);
    assert.equal(seen.length, 1, 'the twins are one message');
    const msg = seen[0];
    assert.equal(msg.payload, 'what is the weather?', 'the leading mention is removed');
    assert.equal(msg.chat.chatType, 'channel');
    assert.equal(msg.chat.mentioned, true);
    assert.equal(msg.chat.threadId, message.ts, 'a top-level message is answered in its own thread');

    await reply({ payload: 'sunny', chat: msg.chat });
    const answer = await slack.waitForMessage(slack.fixtures.channel, (m) => m.fromBot, 5000);
    assert.equal(answer.thread_ts, message.ts);
    assert.equal(answer.visibleText, 'sunny');
  });

  it('channel chatter without a mention is ignored, unless every message is asked for', async () => {
    await start();
    const seen = collect('h');
    await slack.deliver(slack.make.channelMessage('just talking')).waitAck();
    await sleep(200);
    assert.equal(seen.length, 0);
    await unload();

    await start({ channels: 'all' });
    const got = nextMessage('h', 5000);
    slack.deliver(slack.make.channelMessage('just talking'));
    assert.equal((await got).payload, 'just talking');
  });

  it('replies in a thread the app takes part in pass without a mention, in the right thread; other threads do not', async () => {
    await start();
    const seen = collect('h');
    const [message, mention] = slack.make.mention('start a thread');
    slack.deliver([message, mention]);
    await until(() => seen.length === 1, 3000, 'the mention');
    await reply({ payload: 'here I am', chat: seen[0].chat });
    await slack.waitForMessage(slack.fixtures.channel, (m) => m.fromBot && m.thread_ts === message.ts, 5000);

    await slack.deliver(slack.make.threadReply(String(message.ts), 'and a follow-up')).waitAck();
    await until(() => seen.length === 2, 3000, 'the follow-up');
    assert.equal(seen[1].payload, 'and a follow-up');
    assert.equal(seen[1].chat.threadId, message.ts, 'same thread, so the same conversation');
    assert.equal(seen[1].chat.mentioned, false);

    const other = slack.make.channelMessage('a thread of people');
    await slack.deliver(other).waitAck();
    await slack.deliver(slack.make.threadReply(String(other.ts), 'people talking')).waitAck();
    await sleep(200);
    assert.equal(seen.length, 2, 'a thread the app is not in stays private');
  });

  it("with threads set to 'mention', a thread reply needs a mention", async () => {
    await start({ threads: 'mention' });
    const seen = collect('h');
    const [message, mention] = slack.make.mention('start');
    slack.deliver([message, mention]);
    await until(() => seen.length === 1, 3000, 'the mention');
    await slack.deliver(slack.make.threadReply(String(message.ts), 'no mention here')).waitAck();
    await sleep(200);
    assert.equal(seen.length, 1);
    const [m2, a2] = slack.make.mention('with a mention', { threadTs: String(message.ts) });
    slack.deliver([m2, a2]);
    await until(() => seen.length === 2, 3000, 'the mention in the thread');
    assert.equal(seen[1].chat.threadId, message.ts);
  });

  it('a slash command is acknowledged at once and enters as msg.chat.command', async () => {
    await start();
    const got = nextMessage('h', 5000);
    const d = slack.deliver(slack.make.slashCommand('/ask', 'what is &lt;b&gt;?'));
    const ack = await d.waitAck(1500);
    assert.ok(ack, 'acked');
    const msg = await got;
    assert.deepEqual(msg.chat.command, { name: '/ask', args: 'what is <b>?' });
    assert.equal(msg.payload, 'what is <b>?');
    assert.equal(msg.chat.chatId, slack.fixtures.channel);
    assert.equal(msg.slack.type, 'command');
    assert.match(msg.chat.messageId, /^cmd-/);

    await reply({ payload: 'an answer', chat: msg.chat });
    const answer = await slack.waitForMessage(slack.fixtures.channel, (m) => m.fromBot, 5000);
    assert.equal(answer.visibleText, 'an answer');
  });

  it('a button press is acknowledged and enters with the button value, answered in the thread of its message', async () => {
    await start();
    const seen = collect('h');
    const [message, mention] = slack.make.mention('pick one');
    slack.deliver([message, mention]);
    await until(() => seen.length === 1, 3000, 'the mention');
    await reply({ payload: 'choose:', chat: seen[0].chat, buttons: [{ text: 'Red', data: 'colour red' }, { text: 'Docs', url: 'https://example.com/docs' }] });
    const withButtons = await slack.waitForMessage(slack.fixtures.channel, (m) => m.fromBot && Array.isArray(m.blocks), 5000);
    const press = slack.make.blockAction('chatgate_1', { value: 'colour red', messageTs: withButtons.ts });
    await slack.deliver(press).waitAck(1500);
    await until(() => seen.length === 2, 3000, 'the press');
    assert.equal(seen[1].payload, 'colour red');
    assert.equal(seen[1].slack.type, 'action');
    assert.equal(seen[1].slack.action.actionId, 'chatgate_1');
    assert.equal(seen[1].chat.threadId, message.ts, "the press is answered in the button's thread");
  });

  it('a file becomes an attachment without any URL; with downloads on, its bytes arrive in msg.files', async () => {
    await start({ download: true, maxDownload: 1 });
    const data = Buffer.from('%PDF-1.4 a small report');
    const got = nextMessage('h', 5000);
    const ev = slack.make.fileShare({ text: 'my report', name: 'report.pdf', mimetype: 'application/pdf', data });
    slack.deliver(ev);
    const msg = await got;
    const file = (ev.files as Array<{ id: string }>)[0];
    assert.deepEqual(msg.chat.attachments, [{ kind: 'file', fileId: file.id, name: 'report.pdf', mimeType: 'application/pdf', size: data.length }]);
    const { files, ...rest } = msg;
    assert.ok(!JSON.stringify(rest).includes('files-pri'), 'no url_private in the message');
    assert.equal(files.length, 1);
    assert.ok(Buffer.from(files[0].data).equals(data));
    assert.deepEqual(slack.downloads.map((d) => d.authorized), [true]);

    // Over the limit: not downloaded, said once.
    const big = nextMessage('h', 5000);
    slack.deliver(slack.make.fileShare({ text: 'too big', name: 'big.bin', mimetype: 'application/octet-stream', data: Buffer.alloc(2 * 1024 * 1024) }));
    const m2 = await big;
    assert.deepEqual(m2.files, []);
    assert.equal(slack.downloads.length, 1);
    assert.ok(everythingSaid('in').some((l) => l.includes('big.bin is larger than 1 MB')));
  });

  it('the same message sent again (a Socket Mode redelivery, an edit off) passes once', async () => {
    await start();
    const seen = collect('h');
    const ev = slack.make.dm('only once please');
    await slack.deliver(ev).waitAck();
    await slack.deliver(slack.wrapEvent(ev)).waitAck();
    await slack.deliver(slack.wrapEvent(ev)).waitAck();
    await slack.deliver(slack.make.edited(String(ev.ts), 'only once, edited', { channel: slack.fixtures.dm })).waitAck();
    await sleep(300);
    assert.equal(seen.length, 1);
  });

  it('an envelope the app did not ack in time is redelivered by Slack and still passes once', async () => {
    await unload();
    await slack.close();
    slack = await startEmulator({ ackTimeoutMs: 900 });
    await start();
    const seen = collect('h');
    // The socket turns deaf for a moment: the first delivery is swallowed, Slack redelivers on the new socket.
    slack.inject.zombieSockets();
    const d = slack.deliver(slack.make.dm('redelivered'));
    await slack.waitForSockets((s) => s.connections >= 2 && s.openSockets >= 1, 8000);
    await d.waitAck(8000);
    await until(() => seen.length >= 1, 5000, 'the redelivered message');
    await sleep(300);
    assert.equal(seen.length, 1);
    assert.ok(d.attempts.length >= 2, 'it was delivered more than once');
  });

  it('with edits on, an edit passes as a new message', async () => {
    await start({ edited: true });
    const seen = collect('h');
    const ev = slack.make.dm('first words');
    slack.deliver(ev);
    await until(() => seen.length === 1, 3000, 'the message');
    slack.deliver(slack.make.edited(String(ev.ts), 'second words', { channel: slack.fixtures.dm }));
    await until(() => seen.length === 2, 3000, 'the edit');
    assert.equal(seen[1].payload, 'second words');
    assert.equal(seen[1].slack.edited, true);
  });

  it('messages from bots and from the app itself are ignored', async () => {
    await start({ channels: 'all' });
    const seen = collect('h');
    await slack.deliver(slack.make.botMessage('I am another bot')).waitAck();
    await slack.deliver(slack.make.botMessage('I am a modern app', { appBot: true })).waitAck();
    await slack.deliver(slack.make.selfMessage('I am the app itself')).waitAck();
    await slack.deliver(slack.make.botMessage('in a DM', { channel: slack.fixtures.dm })).waitAck();
    await sleep(300);
    assert.equal(seen.length, 0);
  });

  it('a new AI-app thread gets the operator title and suggested prompts', async () => {
    const prompts = [
      { title: 'Summarise', message: 'Summarise this channel' },
      { title: 'Draft', message: 'Draft a reply' },
    ];
    await start({ prompts, promptsTitle: 'Try one of these', threadTitle: 'Chat with the agent' });
    const seen = collect('h');
    const ev = slack.make.assistantThreadStarted();
    const thread = ev.assistant_thread as { channel_id: string; thread_ts: string };
    slack.deliver(ev);
    await slack.waitFor((c) => c.method === 'assistant.threads.setSuggestedPrompts' && c.ok, 5000);
    await slack.waitFor((c) => c.method === 'assistant.threads.setTitle' && c.ok, 5000);
    const a = slack.assistantThread(thread.channel_id, thread.thread_ts);
    assert.deepEqual(a?.prompts, prompts);
    assert.equal(a?.promptsTitle, 'Try one of these');
    assert.equal(a?.title, 'Chat with the agent');
    assert.equal(seen.length, 0, 'opening the panel is not a message');

    // The user's first message in that thread is answered there.
    const got = nextMessage('h', 5000);
    slack.deliver(slack.make.dm('Summarise this channel', { threadTs: thread.thread_ts }));
    const msg = await got;
    assert.equal(msg.chat.threadId, thread.thread_ts);
  });

  it('a malformed payload is dropped and logged once per kind, never passed on', async () => {
    await start({ channels: 'all' });
    const seen = collect('h');
    const bad = slack.make.channelMessage('bad user id');
    bad.user = { id: 'U123' };
    const bad2 = slack.make.channelMessage('bad user id again');
    bad2.user = 42;
    await slack.deliver(bad).waitAck();
    await slack.deliver(bad2).waitAck();
    const good = nextMessage('h', 5000);
    slack.deliver(slack.make.channelMessage('good one'));
    assert.equal((await good).payload, 'good one');
    assert.equal(seen.length, 1);
    const warnings = everythingSaid('in').filter((l) => l.includes('dropped a malformed Slack payload'));
    assert.equal(warnings.length, 1, JSON.stringify(warnings));
    assert.match(warnings[0], /event\.user/);
  });
});
