/**
 * The discord out node in the real runtime, with the real @discordjs/rest against the Discord
 * emulator: replies in the channel, thread or DM they answer; `allowed_mentions` on every message
 * so an agent's @everyone reaches nobody; quoting; long replies split at 2,000 with every code block
 * whole; streamed edits ending in exactly the whole reply; a slash command's answer; typing;
 * buttons and files; a 429 storm over 200 replies to 20 channels losing none, doubling none, in
 * per-channel order; a lost answer never doubled; Discord's refusals as plain errors.
 */
import assert from 'node:assert/strict';
import { renderAndSplit } from '../../nodes/core/delivery';
import { DISCORD_FORMAT } from '../../nodes/discord/discord-sender';
import type { DiscordServer, VisibleMessage } from '../emulators/discord-server';
import { enforcePermissionsByHeader, getNode, helper, nextMessage, setRedPatch, sleep } from '../helpers/red';
import { botNode, delivered, discordChat, failure, gateway, loadFlow, startEmulator, type FlowNode, useEmulator } from '../helpers/discord';
import { until } from '../helpers/telegram';

describe('discord out', function () {
  this.timeout(30000);
  let discord: DiscordServer;
  useEmulator(() => discord, (s) => (discord = s));

  async function start(outOver: Record<string, unknown> = {}, opts: { in?: boolean } = {}): Promise<void> {
    const flow: FlowNode[] = [
      gateway,
      botNode(discord),
      { id: 'out', type: 'chatgate-discord-out', bot: 'bot', gateway: 'gw', ...outOver },
      ...(opts.in ? [{ id: 'in', type: 'chatgate-discord-in', bot: 'bot', gateway: 'gw', wires: [['h']] }, { id: 'h', type: 'helper' }] : []),
    ];
    await loadFlow(flow, { token: discord.token });
    const want = opts.in ? 'gateway' : 'connected';
    await until(() => getNode('bot').connection?.status.key === want, 8000, 'connected');
  }

  const channelChat = (over: Partial<Parameters<typeof discordChat>[0]> = {}) => discordChat({ chatId: discord.fixtures.channel, userId: discord.fixtures.user, ...over });
  const botMessages = (channel: string): VisibleMessage[] => discord.channel(channel).filter((m) => m.fromBot);

  async function send(msg: Record<string, unknown>, n = 1): Promise<void> {
    const done = delivered('out', n);
    getNode('out').receive(msg);
    await done;
  }

  it('a reply reaches the DM, naming allowed_mentions; @everyone, roles and users in the text ping nobody', async () => {
    await start();
    const f = discord.fixtures;
    await send({ payload: `Hey @everyone and @here, <@&${f.role}> and <@${f.otherUser}>: done.`, chat: discordChat({ chatId: f.dm, userId: f.user, chatType: 'direct' }) });
    const [m] = botMessages(f.dm);
    assert.ok(m, 'the reply is in the DM');
    assert.ok(m.content.includes('everyone'));
    assert.deepEqual(m.allowedMentions, { parse: [], replied_user: false });
    await send({ payload: 'And again @everyone', chat: channelChat() });
    assert.deepEqual(discord.mentionsPinged, [], 'nobody was notified');
    for (const c of discord.sent.filter((x) => x.op === 'createMessage')) assert.deepEqual((c.body as { allowed_mentions?: unknown }).allowed_mentions, { parse: [], replied_user: false });
  });

  it('the mentions option lets users be pinged, never @everyone or roles', async () => {
    await start({ mentions: 'users' });
    await send({ payload: 'Hello @everyone', chat: channelChat() });
    const [m] = botMessages(discord.fixtures.channel);
    assert.deepEqual(m.allowedMentions, { parse: ['users'], replied_user: true });
    assert.deepEqual(discord.mentionsPinged, []);
  });

  it('quote: the first message replies to the user message (fail_if_not_exists false); a thread reply goes in the thread', async () => {
    await start({ replyToMessage: true });
    const question = discord.make.threadMessage('a question', { mentionBot: true });
    await send({ payload: 'the answer', chat: channelChat({ threadId: discord.fixtures.thread, messageId: String(question.id) }) });
    const [m] = botMessages(discord.fixtures.thread);
    assert.equal(m.content, 'the answer');
    assert.equal(m.replyTo, question.id);
    const call = discord.sent.find((c) => c.op === 'createMessage')!;
    assert.deepEqual((call.body as { message_reference?: unknown }).message_reference, { message_id: question.id, fail_if_not_exists: false });
    assert.equal(botMessages(discord.fixtures.channel).length, 0, 'nothing in the parent channel');
  });

  it('a long Markdown reply is split at 2,000 with every code block whole, in order', async () => {
    await start();
    const code = (name: string, lines: number) => ['```js', ...Array.from({ length: lines }, (_, i) => `${name} line ${String(i).padStart(3, '0')} of the listing`), '```'].join('\n');
    const prose = (n: number) => Array.from({ length: n }, (_, i) => `Paragraph ${i} says a few words about the topic at hand, nothing more.`).join('\n\n');
    const md = [prose(12), code('short', 20), prose(8), code('long', 110), prose(5)].join('\n\n');
    const expected = renderAndSplit(md, DISCORD_FORMAT).map((p) => p.text);
    const n = expected.length;
    await send({ payload: md, chat: channelChat() });
    const parts = botMessages(discord.fixtures.channel).map((m) => m.content);
    assert.ok(parts.length >= 3, `split into ${parts.length}`);
    assert.deepEqual(parts, expected);
    assert.equal(n, parts.length);
    for (const p of parts) {
      assert.ok(p.length <= 2000, `a part of ${p.length}`);
      assert.equal((p.match(/```/g) ?? []).length % 2, 0, 'fences balanced within each part');
      const outside = p.replace(/```[^\n]*\n[\s\S]*?```/g, '');
      assert.ok(!outside.includes('of the listing'), 'every code line is inside a complete fenced block');
    }
    assert.ok(parts.filter((p) => p.includes('long line')).length >= 2, 'the long code block became several complete blocks');
    const all = parts.join('\n');
    for (let i = 0; i < 110; i++) assert.ok(all.includes(`long line ${String(i).padStart(3, '0')} of the listing`), `code line ${i} kept`);
  });

  it('streamed parts edit one message; the final text is the whole reply', async () => {
    await start();
    const chat = channelChat();
    const words = Array.from({ length: 40 }, (_, i) => `word${i}`);
    for (let i = 1; i <= words.length; i += 4) {
      getNode('out').receive({ payload: words.slice(0, i).join(' '), chat, stream: { id: 's1', seq: i, done: false } });
      await sleep(60);
    }
    const whole = words.join(' ');
    await send({ payload: whole, chat, stream: { id: 's1', seq: 999, done: true } });
    const mine = botMessages(discord.fixtures.channel);
    assert.equal(mine.length, 1, 'one message');
    assert.equal(mine[0].content, renderAndSplit(whole, DISCORD_FORMAT)[0].text);
    assert.ok(mine[0].edits >= 1, 'it was edited');
    assert.ok(discord.sent.filter((c) => c.op === 'createMessage').length === 1);
  });

  it('a streamed reply past 2,000 rolls over into a new message; together they hold the whole reply', async () => {
    await start();
    const chat = channelChat();
    const paragraphs = Array.from({ length: 50 }, (_, i) => `Paragraph ${i}: ${'lorem ipsum '.repeat(6)}`);
    for (let i = 5; i <= 50; i += 5) {
      getNode('out').receive({ payload: paragraphs.slice(0, i).join('\n\n'), chat, stream: { id: 's2', seq: i, done: false } });
      await sleep(80);
    }
    const whole = paragraphs.join('\n\n');
    await send({ payload: whole, chat, stream: { id: 's2', seq: 100, done: true } });
    const got = botMessages(discord.fixtures.channel).map((m) => m.content);
    assert.deepEqual(got, renderAndSplit(whole, DISCORD_FORMAT).map((p) => p.text));
    assert.ok(got.length >= 2);
  });

  it('a slash command answer edits the deferral; typing shows in channels but not for interactions', async () => {
    await start({}, { in: true });
    const got = nextMessage('h', 5000);
    const cmd = discord.make.slashCommand('ask', { options: { text: 'hi' } });
    discord.deliver(cmd);
    const msg = await got;
    await until(() => discord.interaction(String(cmd.id))?.response !== undefined, 3000, 'the deferral');
    getNode('out').receive({ event: 'typing', payload: '', chat: msg.chat });
    await sleep(200);
    assert.equal(discord.typing(discord.fixtures.channel).length, 0, 'the deferral shows thinking; no typing');
    await send({ payload: 'hello from the agent', chat: msg.chat });
    const it = discord.interaction(String(cmd.id))!;
    const original = discord.message(discord.fixtures.channel, it.originalMessageId!)!;
    assert.equal(original.content, 'hello from the agent');
    assert.equal(original.loading, false);
    // A channel message: typing is shown while the agent works.
    getNode('out').receive({ event: 'typing', payload: '', chat: channelChat() });
    await until(() => discord.typing(discord.fixtures.channel).length === 1, 3000, 'typing');
    await send({ payload: 'done', chat: channelChat() });
  });

  it("after the token's 15 minutes a reply goes to the channel; an ephemeral one is refused, never shown to everyone", async () => {
    await start({}, { in: true });
    const ask = async (text: string) => {
      const got = nextMessage('h', 5000);
      const cmd = discord.make.slashCommand('ask', { options: { text } });
      discord.deliver(cmd);
      const msg = await got;
      await until(() => discord.interaction(String(cmd.id))?.response !== undefined, 3000, 'the deferral');
      // As if 15 minutes had passed since the command.
      getNode('bot').connection.interactions.find(String(cmd.id)).receivedAt -= 15 * 60 * 1000;
      return msg;
    };
    const late = await ask('public question');
    await send({ payload: 'a late answer', chat: late.chat });
    assert.ok(botMessages(discord.fixtures.channel).some((m) => m.content === 'a late answer' && !m.interaction), 'posted to the channel');
    const secret = await ask('private question');
    getNode('bot').connection.interactions.find(secret.chat.replyTo.interactionId).ephemeral = true;
    const err = failure('out');
    getNode('out').receive({ payload: 'for your eyes only', chat: secret.chat });
    assert.match(await err, /expired/);
    assert.ok(!discord.channel(discord.fixtures.channel).some((m) => m.content === 'for your eyes only'));
  });

  it('buttons become components; a press comes back through the in node', async () => {
    await start({}, { in: true });
    await send({ payload: 'Choose one', chat: channelChat(), buttons: [[{ text: 'Yes', data: 'yes' }, { text: 'No', data: 'no' }], [{ text: 'Docs', url: 'https://example.com/docs' }]] });
    const [m] = botMessages(discord.fixtures.channel);
    assert.deepEqual(m.components, [
      { type: 1, components: [{ type: 2, style: 1, label: 'Yes', custom_id: 'yes' }, { type: 2, style: 1, label: 'No', custom_id: 'no' }] },
      { type: 1, components: [{ type: 2, style: 5, label: 'Docs', url: 'https://example.com/docs' }] },
    ]);
    const got = nextMessage('h', 5000);
    discord.deliver(discord.make.component('no', { message: m.id }));
    assert.equal((await got).payload, 'no');
  });

  it('buttons beyond Discord limits, or sharing their data, are refused with the field named', async () => {
    await start();
    const six = Array.from({ length: 6 }, (_, i) => ({ text: `b${i}`, data: `d${i}` }));
    const tooMany = failure('out');
    getNode('out').receive({ payload: 'x', chat: channelChat(), buttons: [six] });
    assert.match(await tooMany, /msg\.buttons/);
    const twice = failure('out');
    getNode('out').receive({ payload: 'x', chat: channelChat(), buttons: [[{ text: 'a', data: 'same' }, { text: 'b', data: 'same' }]] });
    assert.match(await twice, /each button's data to be different/);
    assert.equal(botMessages(discord.fixtures.channel).length, 0);
  });

  it('a file goes with the message', async () => {
    await start();
    await send({ payload: 'the report', chat: channelChat(), file: Buffer.from('a,b\n1,2\n'), filename: 'report.csv' });
    const [m] = botMessages(discord.fixtures.channel);
    assert.equal(m.content, 'the report');
    assert.equal(m.attachments.length, 1);
    assert.equal(m.attachments[0].filename, 'report.csv');
    assert.equal(m.attachments[0].size, 8);
  });

  it('a 429 storm over 200 replies to 20 channels loses none and doubles none, in per-channel order', async () => {
    await discord.close();
    discord = await startEmulator({ rateLimit: { limit: 3, windowMs: 300 } });
    await start();
    const channels = Array.from({ length: 20 }, (_, i) => discord.addChannel({ name: `load-${i}` }).id);
    discord.inject.failNext('createMessage', 20, { status: 429, retryAfter: 0.3 });
    discord.inject.failNext('createMessage', 5, { status: 429, retryAfter: 0.2, global: true });
    const done = delivered('out', 200, 60000);
    for (let j = 0; j < 10; j++) for (let c = 0; c < channels.length; c++) getNode('out').receive({ payload: `reply ${j} to ${c}`, chat: channelChat({ chatId: channels[c] }) });
    await done;
    assert.ok(discord.stats.rateLimited >= 25, `429s served: ${discord.stats.rateLimited}`);
    for (let c = 0; c < channels.length; c++) {
      const got = botMessages(channels[c]).map((m) => m.content);
      assert.deepEqual(got, Array.from({ length: 10 }, (_, j) => `reply ${j} to ${c}`), `channel ${c}`);
    }
  });

  it('a message post whose answer was lost is repeated with its enforced nonce and not posted twice', async () => {
    await start();
    discord.inject.loseResponses(1, 'createMessage');
    await send({ payload: 'exactly once', chat: channelChat() });
    assert.deepEqual(botMessages(discord.fixtures.channel).map((m) => m.content), ['exactly once']);
    const posts = discord.sent.filter((c) => c.op === 'createMessage' && c.channelId === discord.fixtures.channel);
    assert.deepEqual(posts.map((c) => c.outcome), ['lost', 'ok'], 'the lost post was repeated, and Discord answered with the first message');
    assert.equal((posts[0].body as { nonce?: string }).nonce, (posts[1].body as { nonce?: string }).nonce);
  });

  it('an interaction follow-up whose answer was lost is not repeated; the error says it may be missing', async () => {
    await start({}, { in: true });
    const got = nextMessage('h', 5000);
    const cmd = discord.make.slashCommand('ask', { options: { text: 'two parts' } });
    discord.deliver(cmd);
    const msg = await got;
    await until(() => discord.interaction(String(cmd.id))?.response !== undefined, 3000, 'the deferral');
    discord.inject.failNext('followup', 1, { status: 502 });
    const err = failure('out');
    getNode('out').receive({ payload: Array.from({ length: 40 }, (_, i) => `Paragraph ${i}: ${'words '.repeat(12)}`).join('\n\n'), chat: msg.chat });
    assert.match(await err, /not repeated.*may be missing/);
    assert.equal(discord.sent.filter((c) => c.op === 'followup').length, 1);
  });

  it("Discord's refusal is a plain error a Catch node sees: no permission in the channel", async () => {
    await start();
    const locked = discord.addChannel({ name: 'read-only', botCanSend: false }).id;
    const err = failure('out');
    getNode('out').receive({ payload: 'hi', chat: channelChat({ chatId: locked }) });
    assert.match(await err, /lacks a permission/);
  });

  it('a reply for another platform, or without an address, is refused naming the field', async () => {
    await start();
    const wrong = failure('out');
    getNode('out').receive({ payload: 'x', chat: { replyTo: { platform: 'slack', channelId: 'bot', chatId: 'C1', userId: 'U1' } } });
    assert.match(await wrong, /not discord/);
    const none = failure('out');
    getNode('out').receive({ payload: 'x' });
    assert.match(await none, /msg\.chat/);
  });

  it("the gateway's admin send API delivers through the out node", async () => {
    setRedPatch(enforcePermissionsByHeader);
    try {
      await start({}, { in: true });
      await helper.request().post('/chatgate/gateways/gw/send').set('x-test-permissions', 'write').send({ chatJid: `discord:${discord.fixtures.otherChannel}`, text: 'from the operator' }).expect(200);
      await until(() => botMessages(discord.fixtures.otherChannel).length === 1, 3000, 'the message');
      assert.equal(botMessages(discord.fixtures.otherChannel)[0].content, 'from the operator');
    } finally {
      setRedPatch(undefined);
    }
  });
});
