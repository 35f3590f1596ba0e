/**
 * Telegram in, end to end: real grammy in the real Node-RED runtime against the Telegram emulator,
 * from an update the user sends to the envelope the flow gets.
 */
import assert from 'node:assert/strict';
import request from 'supertest';
import type { Update } from 'grammy/types';
import { startTelegramServer, type TelegramServer } from '../emulators/telegram-server';
import { captured, collect, getNode, helper, nextMessage, sleep, unload, useUserDir } from '../helpers/red';
import { BOT, botNode, loadFlow, statusTexts, TOKEN, until, type FlowNode } from '../helpers/telegram';

function flow(tg: TelegramServer, inOver: Record<string, unknown> = {}, botOver: Record<string, unknown> = {}): FlowNode[] {
  return [
    { id: 'gw', type: 'chatgate-gateway', name: 'test gateway' },
    botNode(tg.apiRoot, botOver),
    { id: 'in', type: 'chatgate-telegram-in', bot: 'bot', gateway: 'gw', wires: [['h']], ...inOver },
    { id: 'h', type: 'helper' },
  ];
}

const connected = () => getNode('bot')?.connection?.status.state === 'connected';

function logs(): string {
  return JSON.stringify(helper.log().args, (_k, v: unknown) => (v instanceof Error ? { message: v.message, stack: v.stack } : v));
}

describe('telegram in', function () {
  let tg: TelegramServer;

  beforeEach(async () => {
    // A fresh user directory per test: the gateway's de-duplication window is persisted.
    useUserDir();
    tg = await startTelegramServer({ token: TOKEN, botUsername: BOT });
  });
  afterEach(async () => {
    await unload();
    await tg.close();
  });

  async function start(inOver: Record<string, unknown> = {}, botOver: Record<string, unknown> = {}): Promise<void> {
    await loadFlow(flow(tg, inOver, botOver));
    await until(connected, 3000, 'connected');
  }

  /** Sends `updates`, then a DM marker, and returns what reached the flow before the marker. */
  async function passed(updates: Array<Omit<Update, 'update_id'>>): Promise<Array<{ payload: string; chat: Record<string, unknown> }>> {
    const seen = collect('h');
    for (const u of updates) tg.pushUpdate(u);
    const marker = nextMessage('h');
    tg.pushUpdate(tg.make.text('MARKER', { from: { id: 999 } }));
    await marker;
    await sleep(10);
    return seen.filter((m) => m.payload !== 'MARKER');
  }

  it('a direct message becomes an envelope', async () => {
    await start();
    const arriving = nextMessage('h');
    tg.pushUpdate(tg.make.text('hello bot', { from: { id: 4242, first_name: 'Ann', username: 'ann' }, messageId: 77 }));
    const msg = await arriving;
    assert.equal(msg.payload, 'hello bot');
    const c = msg.chat;
    assert.equal(c.platform, 'telegram');
    assert.equal(c.channelId, 'bot');
    assert.equal(c.chatId, '4242');
    assert.equal(c.chatJid, 'tg:4242');
    assert.equal(c.chatType, 'direct');
    assert.equal(c.userId, '4242');
    assert.equal(c.userJid, 'tg:4242');
    assert.equal(c.userName, 'ann');
    assert.equal(c.isBot, false);
    assert.equal(c.messageId, '77');
    assert.equal(c.mentioned, true);
    assert.equal(c.threadId, undefined);
    assert.deepEqual(c.attachments, []);
    assert.deepEqual(c.replyTo, { platform: 'telegram', channelId: 'bot', chatId: '4242', messageId: '77', userId: '4242' });
    assert.equal(msg.telegram.chatType, 'private');
    assert.match(statusTexts('in').at(-1) ?? '', new RegExp(`connected as @${BOT}`));
  });

  it('in groups passes only commands, @mentions and replies to the bot', async () => {
    await start();
    const group = { id: -1001234, type: 'supergroup' as const, title: 'Team' };
    const botMsg = await getNode('bot').connection.api.sendMessage(group.id, 'I am the bot');
    const seen = await passed([
      tg.make.text('just chatting', { chat: group }),
      tg.make.text(`@${BOT} what time is it?`, { chat: group }),
      tg.make.text('@someone_else hi', { chat: group }),
      tg.make.text('thanks!', { chat: group, replyTo: botMsg.message_id }),
      tg.make.text('/help', { chat: group }),
      tg.make.text('/help@other_bot', { chat: group }),
      tg.make.text(`/help@${BOT} me`, { chat: group }),
      tg.make.text('no mention in a basic group', { chat: { id: -55, type: 'group' } }),
    ]);
    assert.deepEqual(
      seen.map((m) => m.payload),
      ['what time is it?', 'thanks!', '/help', `/help@${BOT} me`],
    );
    for (const m of seen) {
      assert.equal(m.chat.chatType, 'group');
      assert.equal(m.chat.mentioned, true);
      assert.equal(m.chat.chatId, String(group.id));
    }
    assert.deepEqual((seen[1] as unknown as { telegram: { replyToMessage: unknown } }).telegram.replyToMessage, {
      messageId: String(botMsg.message_id),
      userId: String(tg.bot.id),
      isBot: true,
      text: 'I am the bot',
    });
    assert.equal((seen[1].chat.replyTo as Record<string, unknown>).replyToMessageId, String(botMsg.message_id));
  });

  it('groups "always" passes every message, marked whether it mentioned the bot', async () => {
    await start({ groups: 'always' });
    const group = { id: -1009, type: 'supergroup' as const };
    const seen = await passed([tg.make.text('just chatting', { chat: group }), tg.make.text(`@${BOT} hi`, { chat: group }), tg.make.text('/x@other_bot', { chat: group })]);
    assert.deepEqual(
      seen.map((m) => [m.payload, m.chat.mentioned]),
      [
        ['just chatting', false],
        ['hi', true],
      ],
    );
  });

  it('a forum topic becomes the threadId; the topic itself is not a reply to the bot', async () => {
    await start();
    const forum = { id: -100777, type: 'supergroup' as const, is_forum: true };
    // The bot opened topic 50: every message in it carries the topic's first message as reply_to_message.
    const topicStart = { message_id: 50, date: 0, chat: { id: forum.id, type: 'supergroup', title: 'F', is_forum: true }, from: tg.bot, forum_topic_created: { name: 'T', icon_color: 0 } };
    const seen = await passed([
      tg.make.text('in the topic, not for the bot', { chat: forum, threadId: 50, replyTo: topicStart as never }),
      tg.make.text(`@${BOT} help in the topic`, { chat: forum, threadId: 50, replyTo: topicStart as never }),
    ]);
    assert.equal(seen.length, 1);
    assert.equal(seen[0].payload, 'help in the topic');
    assert.equal(seen[0].chat.threadId, '50');
    assert.equal((seen[0].chat.replyTo as Record<string, unknown>).threadId, '50');
    assert.equal((seen[0] as unknown as { telegram: { replyToMessage?: unknown } }).telegram.replyToMessage, undefined);
  });

  it('parses /start@bot args into the command', async () => {
    await start();
    const arriving = nextMessage('h');
    tg.pushUpdate(tg.make.command(`/Start@${BOT} deep-link-42`));
    const msg = await arriving;
    assert.deepEqual(msg.chat.command, { name: '/start', args: 'deep-link-42' });
  });

  it('photos, documents, voice and locations become attachments with file ids and no token anywhere', async () => {
    await start();
    const seen = await passed([
      tg.make.photo({ caption: 'look', data: Buffer.alloc(3000, 1) }),
      tg.make.document({ fileName: 'report.pdf', data: Buffer.alloc(100, 2) }),
      tg.make.voice({ duration: 4 }),
      tg.make.audio({ fileName: 'song.mp3' }),
      tg.make.video({}),
      tg.make.location(52.52, 13.405),
    ]);
    assert.equal(seen.length, 6);
    const [photo, doc, voice, audio, video, loc] = seen.map((m) => (m.chat.attachments as Array<Record<string, unknown>>)[0]);
    assert.equal(seen[0].payload, 'look');
    assert.equal(photo.kind, 'photo');
    assert.equal(photo.size, 3000, 'the largest photo size');
    assert.equal(photo.mimeType, 'image/jpeg');
    assert.equal(doc.kind, 'document');
    assert.equal(doc.name, 'report.pdf');
    assert.equal(doc.mimeType, 'application/pdf');
    assert.equal(doc.size, 100);
    assert.equal(voice.kind, 'voice');
    assert.equal(voice.mimeType, 'audio/ogg');
    assert.equal(audio.kind, 'audio');
    assert.equal(video.kind, 'video');
    for (const a of [photo, doc, voice, audio, video]) assert.match(String(a.fileId), /^F[0-9a-f]+$/);
    assert.deepEqual(loc, { kind: 'location', url: 'geo:52.52,13.405' });
    assert.deepEqual((seen[5] as unknown as { telegram: { location: unknown } }).telegram.location, { latitude: 52.52, longitude: 13.405 });
    const all = JSON.stringify(seen);
    assert.ok(!all.includes(TOKEN), 'no token in any message');
    assert.ok(!all.includes('/file/bot'), 'no download URL in any message');
  });

  it('downloads the bytes into msg.files up to the size limit', async () => {
    await start({ download: true, maxDownload: 0.001 }); // ~1 KB
    const small = Buffer.from('small file bytes');
    const seen = await passed([tg.make.document({ data: small, fileName: 'a.txt', mimeType: 'text/plain' }), tg.make.document({ data: Buffer.alloc(5000, 7) })]);
    const files = (seen[0] as unknown as { files: Array<{ data: Buffer; name: string; size: number; mimeType: string }> }).files;
    assert.equal(files.length, 1);
    assert.ok(Buffer.isBuffer(files[0].data));
    assert.equal(files[0].data.toString(), 'small file bytes');
    assert.equal(files[0].name, 'a.txt');
    assert.equal(files[0].mimeType, 'text/plain');
    assert.deepEqual((seen[1] as unknown as { files: unknown[] }).files, [], 'too large: not downloaded');
    assert.match(logs(), /larger than 0 MB and was not downloaded|was not downloaded/);
    assert.ok(!JSON.stringify(seen.map((m) => ({ ...m, files: undefined }))).includes(TOKEN));
  });

  it('an inline-button press arrives as a message with the button data and is answered', async () => {
    await start();
    const api = getNode('bot').connection.api;
    const menu = await api.sendMessage(4242, 'Pick one', { reply_markup: { inline_keyboard: [[{ text: 'Yes', callback_data: 'choice:yes' }]] } });
    const arriving = nextMessage('h');
    const u = tg.make.callback('choice:yes', { from: { id: 4242 } });
    tg.pushUpdate(u);
    const msg = await arriving;
    assert.equal(msg.payload, 'choice:yes');
    assert.equal(msg.chat.chatId, '4242');
    assert.equal(msg.chat.userId, '4242');
    assert.equal(msg.chat.replyTo.messageId, String(menu.message_id));
    assert.equal(msg.chat.replyTo.callbackQueryId, u.callback_query!.id);
    assert.deepEqual(msg.telegram.callback, { id: u.callback_query!.id, data: 'choice:yes', messageId: String(menu.message_id) });
    const answer = await tg.waitFor((c) => c.method === 'answerCallbackQuery');
    assert.equal(answer.ok, true);
    assert.equal(answer.params.callback_query_id, u.callback_query!.id);
  });

  it('ignores edited messages by default', async () => {
    await start();
    const seen = await passed([tg.make.text('first', { messageId: 5 }), tg.make.edited(5, 'first, edited')]);
    assert.deepEqual(
      seen.map((m) => m.payload),
      ['first'],
    );
  });

  it('passes edited messages on when asked', async () => {
    await start({ edited: true });
    const seen = await passed([tg.make.text('first', { messageId: 5 }), tg.make.edited(5, 'first, edited')]);
    assert.deepEqual(
      seen.map((m) => m.payload),
      ['first', 'first, edited'],
    );
    assert.equal((seen[1] as unknown as { telegram: { edited: boolean } }).telegram.edited, true);
    assert.equal(seen[1].chat.messageId, '5');
  });

  it('ignores messages from bots', async () => {
    await start();
    const seen = await passed([tg.make.text('beep', { from: { id: 555, is_bot: true, first_name: 'Other' } })]);
    assert.equal(seen.length, 0);
  });

  it('an update delivered twice reaches the flow once', async () => {
    await start();
    const u = tg.make.text('only once');
    const id = tg.pushUpdate(u);
    const seen = await passed([]);
    await until(() => tg.pending().length === 0 || tg.pending().every((p) => p.update_id > id), 3000, 'confirmed');
    const again = await passed([{ ...u, update_id: id } as Update]);
    assert.deepEqual(
      [...seen, ...again].map((m) => m.payload),
      ['only once'],
    );
  });

  it('a wrong token says unauthorized in the status, does not crash, and never logs the token', async () => {
    const wrong = '987654321:AAwrong-TOKEN-never-logged';
    await loadFlow(flow(tg), wrong);
    await until(() => statusTexts('in').some((t) => /unauthorized/.test(t)), 3000, 'unauthorized status');
    assert.match(statusTexts('in').at(-1) ?? '', /unauthorized: Telegram refused the bot token/);
    const calls = tg.calls.length;
    await sleep(200);
    assert.equal(tg.calls.length, calls, 'it stops asking with a refused token');
    const everything = logs() + JSON.stringify(statusTexts('in'));
    assert.ok(!everything.includes(wrong), 'token in a log or status');
    assert.ok(!everything.includes('AAwrong'), 'part of the token in a log or status');
  });

  it('409: says another process polls this token, and recovers when it stops', async () => {
    await start();
    tg.inject.failNext('getUpdates', 2, { error_code: 409, description: 'Conflict: terminated by other getUpdates request; make sure that only one bot instance is running' });
    await until(() => statusTexts('in').some((t) => /another process polls this bot token/.test(t)), 4000, 'conflict status');
    await until(() => /connected as/.test(statusTexts('in').at(-1) ?? ''), 4000, 'connected again');
    const arriving = nextMessage('h');
    tg.pushUpdate(tg.make.text('after the conflict'));
    assert.equal((await arriving).payload, 'after the conflict');
  });

  it('polling recovers after dropped connections', async () => {
    await start();
    tg.inject.dropConnections(3, 'getUpdates');
    await until(() => tg.calls.filter((c) => c.outcome === 'dropped').length === 3, 3000, 'drops');
    const arriving = nextMessage('h');
    tg.pushUpdate(tg.make.text('still there?'));
    assert.equal((await arriving).payload, 'still there?');
    assert.ok(statusTexts('in').some((t) => /connection lost, retrying/.test(t)));
    await until(connected, 2000, 'connected');
    assert.ok(!logs().includes(TOKEN));
  });

  it('a stalled poll is noticed and restarted', async function () {
    this.timeout(8000);
    await start();
    tg.inject.stallGetUpdates();
    await tg.nextPoll(2000); // the poll in flight ends at its timeout; the next one never answers
    const arriving = nextMessage('h', 5000);
    tg.pushUpdate(tg.make.text('after the stall'));
    assert.equal((await arriving).payload, 'after the stall');
    assert.ok(statusTexts('in').some((t) => t === 'poll stalled, restarting'));
    assert.ok(tg.calls.some((c) => c.outcome === 'stalled'), 'the stalled request was abandoned');
  });

  it('a redeploy never leaves two pollers', async () => {
    await start();
    for (let i = 0; i < 3; i++) {
      // full redeploy, then one that restarts only the in node (the bot loses and regains its last user)
      await helper.setFlows(flow(tg, { name: `in ${i}` }), 'full', { bot: { token: TOKEN } });
      await until(connected, 3000, 'connected after full deploy');
      await helper.setFlows(flow(tg, { name: `in ${i} again` }), 'nodes', { bot: { token: TOKEN } });
      await until(connected, 3000, 'connected after nodes deploy');
    }
    await sleep(100);
    assert.equal(tg.stats.conflicts, 0, 'no 409: never two getUpdates at once');
    assert.equal(tg.stats.maxActivePolls, 1);
    const arriving = nextMessage('h');
    tg.pushUpdate(tg.make.text('after redeploys'));
    assert.equal((await arriving).payload, 'after redeploys');
  });

  it('an apiRoot with a trailing slash works like a self-hosted Bot API server', async () => {
    await start({}, { apiRoot: `${tg.apiRoot}/` });
    const arriving = nextMessage('h');
    tg.pushUpdate(tg.make.text('via my own server'));
    assert.equal((await arriving).payload, 'via my own server');
  });

  describe('webhook mode', function () {
    before(async () => {
      await helper.startServer();
      // The helper's server serves its own express app; route it to whichever httpNode the current flow got.
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      (helper as any)._app.use((req: any, res: any, next: any) => (captured.RED ? captured.RED.httpNode(req, res, next) : next()));
    });
    after(async () => {
      await helper.stopServer();
    });

    const hookFlow = () => flow(tg, {}, { mode: 'webhook', webhookUrl: helper.url(), webhookPath: '/tg/hook' });

    it('sets the webhook with a secret, takes updates that carry it, refuses others, deletes it on close', async () => {
      await loadFlow(hookFlow());
      await until(connected, 3000, 'webhook set');
      assert.match(statusTexts('in').at(-1) ?? '', new RegExp(`webhook ready as @${BOT}`));
      const hook = tg.webhook!;
      assert.equal(hook.url, `${helper.url()}/tg/hook`);
      assert.match(hook.secret_token ?? '', /^[0-9a-f]{64}$/);
      assert.equal(tg.stats.activePolls, 0, 'no polling in webhook mode');

      // Telegram (the emulator) posts the update with the secret header.
      const arriving = nextMessage('h');
      tg.pushUpdate(tg.make.text('by webhook'));
      assert.equal((await arriving).payload, 'by webhook');
      await until(() => tg.webhookDeliveries.length === 1);
      assert.equal(tg.webhookDeliveries[0].status, 200);

      const seen = collect('h');
      const forged = JSON.stringify({ update_id: 5, message: tg.make.text('forged').message });
      await request(helper.url()).post('/tg/hook').set('content-type', 'application/json').send(forged).expect(401);
      await request(helper.url()).post('/tg/hook').set('content-type', 'application/json').set('x-telegram-bot-api-secret-token', 'wrong').send(forged).expect(401);
      await sleep(50);
      assert.equal(seen.length, 0, 'nothing reached the flow');

      await unload();
      assert.ok(tg.sent.some((c) => c.method === 'deleteWebhook'), 'deleteWebhook on close');
      assert.equal(tg.webhook, undefined);
      await request(helper.url()).post('/tg/hook').set('x-telegram-bot-api-secret-token', hook.secret_token!).send(forged).expect(404);
    });

    it('a webhook flow redeployed as polling deletes the webhook before it polls', async () => {
      await loadFlow(hookFlow());
      await until(connected, 3000, 'webhook set');
      await helper.setFlows(flow(tg), 'full', { bot: { token: TOKEN } });
      await until(connected, 3000, 'polling');
      const arriving = nextMessage('h');
      tg.pushUpdate(tg.make.text('polled again'));
      assert.equal((await arriving).payload, 'polled again');
      assert.equal(tg.stats.conflicts, 0);
    });
  });
});
