/**
 * The discord in node in the real runtime, with the real discord.js against the Discord emulator
 * over the gateway: what passes (DMs, mentions, replies to the bot, listed channels, threads as
 * threadId) and what does not (unmentioned messages, bots), attachments without signed URLs,
 * slash commands and button presses acknowledged at once, and a RESUME replay answered once.
 */
import assert from 'node:assert/strict';
import type { DiscordServer } from '../emulators/discord-server';
import { collect, getNode, nextMessage, sleep } from '../helpers/red';
import { botNode, gateway, loadFlow, type FlowNode, useEmulator } from '../helpers/discord';
import { until } from '../helpers/telegram';

describe('discord in', function () {
  this.timeout(20000);
  let discord: DiscordServer;
  useEmulator(() => discord, (s) => (discord = s));

  async function start(inOver: Record<string, unknown> = {}, botOver: Record<string, unknown> = {}): Promise<void> {
    const flow: FlowNode[] = [gateway, botNode(discord, botOver), { id: 'in', type: 'chatgate-discord-in', bot: 'bot', gateway: 'gw', wires: [['h']], ...inOver }, { id: 'h', type: 'helper' }];
    await loadFlow(flow, { token: discord.token });
    await until(() => getNode('bot').connection?.status.key === 'gateway', 8000, 'connected');
  }

  it('a DM becomes a direct envelope', async () => {
    await start();
    const got = nextMessage('h', 5000);
    const dm = discord.make.dm('hello bot');
    discord.deliver(dm);
    const msg = await got;
    const f = discord.fixtures;
    assert.equal(msg.payload, 'hello bot');
    assert.equal(msg.chat.platform, 'discord');
    assert.equal(msg.chat.channelId, 'bot');
    assert.equal(msg.chat.chatType, 'direct');
    assert.equal(msg.chat.chatId, f.dm);
    assert.equal(msg.chat.chatJid, `discord:${f.dm}`);
    assert.equal(msg.chat.userId, f.user);
    assert.equal(msg.chat.userJid, `discord:${f.user}`);
    assert.equal(msg.chat.userName, 'Alice', 'the global display name');
    assert.equal(msg.chat.messageId, dm.id);
    assert.equal(msg.chat.mentioned, true);
    assert.equal(msg.chat.threadId, undefined);
    assert.deepEqual(msg.chat.replyTo, { platform: 'discord', channelId: 'bot', chatId: f.dm, messageId: dm.id, userId: f.user });
    assert.equal(msg.discord.type, 'message');
  });

  it('a mention in a guild channel passes without the mention; an unmentioned message does not', async () => {
    await start();
    const seen = collect('h');
    discord.deliver(discord.make.guildMessage('just chatting'));
    const mention = discord.make.mention('what is the time?');
    discord.deliver(mention);
    await until(() => seen.length >= 1, 5000, 'the mention');
    await sleep(300);
    assert.equal(seen.length, 1);
    const msg = seen[0];
    assert.equal(msg.payload, 'what is the time?');
    assert.equal(msg.chat.chatType, 'channel');
    assert.equal(msg.chat.chatId, discord.fixtures.channel);
    assert.equal(msg.chat.mentioned, true);
    assert.equal(msg.discord.guildId, discord.fixtures.guild);
    assert.equal(msg.chat.messageId, mention.id);
  });

  it('with the Message Content intent: a reply to the bot passes without a mention; every message of a listed channel passes', async () => {
    // Without the intent Discord sends these with empty text (only mentions and DMs carry it).
    await start({ guild: 'channels', channels: discord.fixtures.otherChannel }, { messageContent: true });
    const seen = collect('h');
    // A message of the bot to reply to.
    const posted = (await getNode('bot').connection.calls.call('POST', `/channels/${discord.fixtures.channel}/messages`, { kind: 'create', body: { content: 'I am the bot', allowed_mentions: { parse: [] } } })) as { id: string };
    discord.deliver(discord.make.guildMessage('thanks!', { replyTo: posted.id, replyPing: false }));
    await until(() => seen.length === 1, 5000, 'the reply');
    assert.equal(seen[0].payload, 'thanks!');
    assert.equal(seen[0].discord.replyToMessageId, posted.id);
    discord.deliver(discord.make.guildMessage('anyone here?', { channel: discord.fixtures.otherChannel }));
    await until(() => seen.length === 2, 5000, 'the listed channel');
    assert.equal(seen[1].payload, 'anyone here?');
    discord.deliver(discord.make.guildMessage('not for you'));
    await sleep(300);
    assert.equal(seen.length, 2);
  });

  it('a mention in a thread has the thread as threadId and its parent as chatId', async () => {
    await start();
    const got = nextMessage('h', 5000);
    discord.deliver(discord.make.threadMessage('in the thread', { mentionBot: true }));
    const msg = await got;
    assert.equal(msg.payload, 'in the thread');
    assert.equal(msg.chat.chatId, discord.fixtures.channel);
    assert.equal(msg.chat.threadId, discord.fixtures.thread);
    assert.equal(msg.chat.replyTo.threadId, discord.fixtures.thread);
    assert.equal(msg.discord.channelId, discord.fixtures.thread);
  });

  it('a thread created after connecting is known as one (THREAD_CREATE)', async () => {
    await start();
    const t = discord.make.thread('new-topic');
    discord.deliver(t);
    await sleep(100);
    const got = nextMessage('h', 5000);
    discord.deliver(discord.make.threadMessage('fresh thread', { channel: String(t.id), mentionBot: true }));
    const msg = await got;
    assert.equal(msg.chat.threadId, t.id);
    assert.equal(msg.chat.chatId, discord.fixtures.channel);
  });

  it('messages from bots (and the bot itself) are ignored', async () => {
    await start();
    const seen = collect('h');
    discord.deliver(discord.make.mention('beep', { user: discord.fixtures.otherBot }));
    await getNode('bot').connection.calls.call('POST', `/channels/${discord.fixtures.channel}/messages`, { kind: 'create', body: { content: `<@${discord.bot.id}> me`, allowed_mentions: { parse: [] } } });
    await sleep(400);
    assert.equal(seen.length, 0);
  });

  it('attachments become envelope attachments without the signed query; downloads use the signed URL', async () => {
    await start({ download: true, maxDownload: 1 });
    const got = nextMessage('h', 5000);
    const data = Buffer.from('the file body');
    discord.deliver(discord.make.dm('see attached', { attachments: [{ filename: 'notes.txt', data }] }));
    const msg = await got;
    assert.equal(msg.chat.attachments.length, 1);
    const a = msg.chat.attachments[0];
    assert.equal(a.name, 'notes.txt');
    assert.equal(a.kind, 'file');
    assert.equal(a.size, data.length);
    assert.ok(a.url.startsWith(discord.baseUrl), a.url);
    assert.ok(!a.url.includes('?'), 'no signature in the envelope');
    assert.ok(!JSON.stringify(msg.chat).includes('hm='), 'no signed query anywhere in msg.chat');
    assert.equal(msg.files.length, 1);
    assert.equal(msg.files[0].data.toString(), 'the file body');
    assert.ok(discord.downloads.some((d) => d.served));
  });

  it('a slash command over the gateway is deferred at once; its options are the text', async () => {
    await start();
    const got = nextMessage('h', 5000);
    const cmd = discord.make.slashCommand('ask', { options: { text: 'why is the sky blue?' } });
    discord.deliver(cmd);
    const msg = await got;
    assert.equal(msg.payload, 'why is the sky blue?');
    assert.deepEqual(msg.chat.command, { name: '/ask', args: 'why is the sky blue?' });
    assert.equal(msg.chat.replyTo.interactionId, cmd.id);
    assert.equal(msg.discord.source, 'gateway');
    assert.equal(JSON.stringify(msg).includes(String(cmd.token)), false, 'the interaction token stays in the bot');
    await until(() => discord.interaction(String(cmd.id))?.response !== undefined, 3000, 'the deferral');
    const r = discord.interaction(String(cmd.id))!.response!;
    assert.equal(r.type, 5);
    assert.equal(r.ephemeral, false);
    assert.ok(r.ms < 1000, `deferred after ${r.ms} ms`);
  });

  it('ephemeral: the deferral carries flags 64', async () => {
    await start({ ephemeral: true });
    const got = nextMessage('h', 5000);
    const cmd = discord.make.slashCommand('ask', { options: { text: 'secret' } });
    discord.deliver(cmd);
    await got;
    await until(() => discord.interaction(String(cmd.id))?.response !== undefined, 3000, 'the deferral');
    assert.equal(discord.interaction(String(cmd.id))!.response!.ephemeral, true);
  });

  it('a button press is acknowledged at once (deferred update) and its data is the payload', async () => {
    await start();
    await getNode('bot').connection.calls.call('POST', `/channels/${discord.fixtures.channel}/messages`, {
      kind: 'create',
      body: { content: 'pick', allowed_mentions: { parse: [] }, components: [{ type: 1, components: [{ type: 2, style: 1, label: 'Yes', custom_id: 'yes' }] }] },
    });
    const got = nextMessage('h', 5000);
    const press = discord.make.component('yes');
    discord.deliver(press);
    const msg = await got;
    assert.equal(msg.payload, 'yes');
    assert.equal(msg.discord.type, 'component');
    await until(() => discord.interaction(String(press.id))?.response !== undefined, 3000, 'the acknowledgement');
    assert.equal(discord.interaction(String(press.id))!.response!.type, 6);
  });

  it('a RESUME replay is answered once: the message and the interaction pass once, the interaction is acknowledged once', async () => {
    await start();
    const seen = collect('h');
    discord.deliver(discord.make.dm('before the drop'));
    const cmd = discord.make.slashCommand('ask', { options: { text: 'once please' } });
    discord.deliver(cmd);
    await until(() => seen.length === 2, 5000, 'both');
    discord.inject.closeGateway(4000);
    await until(() => discord.resumes.some((r) => r.ok), 8000, 'the resume');
    const resume = discord.resumes.find((r) => r.ok)!;
    assert.ok(resume.replayed.some((e) => e.t === 'INTERACTION_CREATE' && e.alreadyDelivered), 'the emulator replayed the interaction');
    assert.ok(resume.replayed.some((e) => e.t === 'MESSAGE_CREATE' && e.alreadyDelivered), 'the emulator replayed the message');
    await sleep(500);
    assert.equal(seen.length, 2);
    const it2 = discord.interaction(String(cmd.id))!;
    assert.equal(it2.callbacks.length, 1, 'one callback');
    assert.equal(getNode('bot').connection.status.key, 'gateway');
  });

  it('a malformed payload is dropped and logged once per kind', async () => {
    await start();
    const seen = collect('h');
    const bad = discord.make.dm('bad id');
    discord.dispatch('MESSAGE_CREATE', { ...bad, author: { ...(bad.author as object), id: 'not-a-snowflake' } });
    discord.dispatch('MESSAGE_CREATE', { ...discord.make.dm('bad again'), author: { id: 42 } });
    const good = nextMessage('h', 5000);
    discord.deliver(discord.make.dm('good one'));
    assert.equal((await good).payload, 'good one');
    assert.equal(seen.length, 1);
    const warnings = (getNode('in').warn as unknown as { getCalls(): Array<{ args: unknown[] }> }).getCalls().map((c) => String(c.args[0]));
    assert.equal(warnings.filter((w) => w.includes('message.author.id')).length, 1);
  });
});
