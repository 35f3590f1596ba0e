/**
 * Out nodes across a full redeploy (the channel kit's runOutNode and ChannelSender), with the real
 * SDKs against the emulators: a reply still being retried, a reply queued behind it, and a stream
 * whose messages are on screen are all finished by the node of the next deploy, once, in order.
 * Found by the soak (bench/soak.ts): replies waiting out a 429 storm or Meta's throughput limit
 * at the moment of a redeploy were never sent, and a stream cut by the redeploy left its first
 * part on screen beside the whole reply.
 */
import { strict as assert } from 'node:assert';
import { startTelegramServer, type TelegramServer } from '../emulators/telegram-server';
import { startWhatsAppServer, type WhatsAppServer } from '../emulators/whatsapp-server';
import type { SlackServer } from '../emulators/slack-server';
import type { DiscordServer } from '../emulators/discord-server';
import { botNode as discordBot, discordChat, gateway as discordGateway, loadFlow as loadDiscord, startEmulator as startDiscord } from '../helpers/discord';
import { appNode, CREDENTIALS, gateway as slackGateway, loadFlow as loadSlack, slackChat, startEmulator as startSlack } from '../helpers/slack';
import { getNode, helper, inbound, sleep, unload, useUserDir } from '../helpers/red';
import { loadFlow as loadTelegram, TOKEN, until } from '../helpers/telegram';
import { accountNode, credentials, gateway, loadFlow as loadWhatsApp, whatsappChat } from '../helpers/whatsapp';

function telegramReply(chatId: number, text: string, stream?: { id: string; seq: number; done: boolean }) {
  return { ...inbound({ platform: 'telegram', channelId: 'bot', chatId: String(chatId), userId: String(chatId) }, text), ...(stream ? { stream } : {}) };
}

describe('out nodes across a full redeploy', function () {
  this.timeout(30000);

  describe('telegram out', () => {
    let tg: TelegramServer;
    beforeEach(async () => {
      useUserDir();
      tg = await startTelegramServer({ token: TOKEN });
    });
    afterEach(async () => {
      await unload();
      await tg.close();
    });

    const flow = () => [
      { id: 'bot', type: 'chatgate-telegram-bot', name: 'test bot', mode: 'polling', apiRoot: tg.apiRoot, pollTimeout: 1, throttle: false, callTimeout: 2, retryMin: 0.05, retryMax: 0.2 },
      { id: 'out', type: 'chatgate-telegram-out', bot: 'bot', typing: false },
    ];
    const shown = (chat: number) => tg.chat(chat).filter((m) => m.fromBot).map((m) => m.text);

    it('sends the reply waiting out a 429 and the one queued behind it, once each, in order', async () => {
      await loadTelegram(flow(), TOKEN, ['telegramBot', 'telegramOut']);
      tg.inject.failNext('sendMessage', 4, { error_code: 429, description: 'Too Many Requests: retry after 1', retry_after: 1 });
      getNode('out').receive(telegramReply(5001, 'first reply'));
      getNode('out').receive(telegramReply(5001, 'second reply'));
      await tg.waitFor((c) => c.method === 'sendMessage' && !c.ok);
      await helper.setFlows(flow(), 'full', { bot: { token: TOKEN } });
      await until(() => shown(5001).length >= 2, 15000, 'both replies');
      await sleep(2500); // a send the old node left under way would land by now
      assert.deepEqual(shown(5001), ['first reply', 'second reply']);
    });

    it('finishes a stream cut by the redeploy in its own message, and leaves no part of it behind', async () => {
      await loadTelegram(flow(), TOKEN, ['telegramBot', 'telegramOut']);
      // The stream's first part is shown; its final edit is caught in a 429 storm when the redeploy comes.
      getNode('out').receive(telegramReply(5002, 'the answer so', { id: 's1', seq: 0, done: false }));
      await until(() => shown(5002).length === 1, 5000, 'the first part');
      tg.inject.failNext('editMessageText', 4, { error_code: 429, description: 'Too Many Requests: retry after 1', retry_after: 1 });
      getNode('out').receive(telegramReply(5002, 'the answer so far, and more', { id: 's1', seq: 1, done: false }));
      await tg.waitFor((c) => c.method === 'editMessageText' && !c.ok);
      await helper.setFlows(flow(), 'full', { bot: { token: TOKEN } });
      // The agent call of the next deploy goes on with the same stream.
      getNode('out').receive(telegramReply(5002, 'the answer, whole', { id: 's1', seq: 2, done: true }));
      await until(() => shown(5002).join() === 'the answer, whole', 15000, 'the whole answer in the first message');
      await sleep(2500);
      assert.deepEqual(shown(5002), ['the answer, whole']);
    });
  });

  describe('whatsapp out', () => {
    let wa: WhatsAppServer;
    beforeEach(async () => {
      useUserDir();
      wa = await startWhatsAppServer();
    });
    afterEach(async () => {
      await unload();
      await wa.close();
    });

    const flow = () => [gateway, accountNode(wa), { id: 'out', type: 'chatgate-whatsapp-out', account: 'wa', gateway: 'gw' }];

    it('sends the reply waiting out the throughput limit (130429) after the redeploy', async () => {
      await loadWhatsApp(flow(), credentials(wa), ['gateway', 'whatsappAccount', 'whatsappOut']);
      const { alice } = wa.fixtures;
      wa.openWindow(alice);
      wa.inject.error(130429, { times: 3 });
      getNode('out').receive({ payload: 'the reply', chat: whatsappChat({ userId: alice.userId, waId: alice.waId }) });
      await wa.waitFor((c) => c.errorCode === 130429);
      await helper.setFlows(flow(), 'full', { wa: credentials(wa) });
      await wa.waitForPhone(alice, (items) => items.some((i) => i.text === 'the reply'), 15000);
      await sleep(1000);
      assert.deepEqual(wa.phone(alice).map((i) => i.text), ['the reply']);
    });
  });

  describe('slack out', () => {
    let slack: SlackServer;
    beforeEach(async () => {
      useUserDir();
      slack = await startSlack();
    });
    afterEach(async () => {
      await unload();
      await slack.close();
    });

    const flow = () => [slackGateway, appNode(slack.apiUrl), { id: 'out', type: 'chatgate-slack-out', app: 'app', gateway: 'gw', typing: false }];

    it('grows a native stream cut by the redeploy on in the same message', async () => {
      await loadSlack(flow());
      await until(() => getNode('app').connection?.status.key === 'connected', 5000, 'connected');
      const ev = slack.make.channelMessage('a question');
      slack.deliver(ev);
      const chat = slackChat({ chatId: slack.fixtures.channel, userId: slack.fixtures.user, threadId: String(ev.ts), messageId: String(ev.ts), teamId: slack.team.id });
      getNode('out').receive({ payload: 'the answer so', chat, stream: { id: 's1', seq: 0, done: false } });
      await slack.waitFor((c) => c.method === 'chat.startStream' && c.ok);
      await helper.setFlows(flow(), 'full', { app: CREDENTIALS });
      await until(() => getNode('app').connection?.status.key === 'connected', 5000, 'connected again');
      getNode('out').receive({ payload: 'the answer so far, whole', chat, stream: { id: 's1', seq: 1, done: true } });
      const bot = () => slack.thread(slack.fixtures.channel, String(ev.ts)).filter((m) => m.fromBot);
      await until(() => bot().some((m) => m.streaming === 'completed'), 10000, 'the stream completed');
      assert.deepEqual(bot().map((m) => m.text), ['the answer so far, whole']);
    });
  });

  describe('discord out', () => {
    let discord: DiscordServer;
    beforeEach(async () => {
      useUserDir();
      discord = await startDiscord();
    });
    afterEach(async () => {
      await unload();
      await discord.close();
    });

    const flow = () => [discordGateway, discordBot(discord), { id: 'out', type: 'chatgate-discord-out', bot: 'bot', gateway: 'gw', typing: false }];

    it('finishes a stream whose first message was still being posted at the redeploy in that message', async () => {
      await loadDiscord(flow(), { token: discord.token });
      await until(() => getNode('bot').connection?.status.key === 'connected', 8000, 'connected');
      const chat = discordChat({ chatId: discord.fixtures.dm, userId: discord.fixtures.user, chatType: 'direct' });
      discord.inject.delayNext('createMessage', 1, 800);
      getNode('out').receive({ payload: 'the answer so', chat, stream: { id: 's1', seq: 0, done: false } });
      getNode('out').receive({ payload: 'the answer, whole', chat, stream: { id: 's1', seq: 1, done: true } });
      await sleep(100);
      await helper.setFlows(flow(), 'full', { bot: { token: discord.token } });
      const bot = () => discord.channel(discord.fixtures.dm).filter((m) => m.fromBot);
      await until(() => bot().some((m) => m.content === 'the answer, whole'), 10000, 'the whole answer');
      await sleep(1500);
      assert.deepEqual(bot().map((m) => m.content), ['the answer, whole']);
    });
  });
});
