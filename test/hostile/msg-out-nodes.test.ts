/**
 * Hostile `msg` objects from upstream flows at every out node — webhook, web chat, Telegram,
 * Slack, Discord, WhatsApp — in the real Node-RED runtime, each against its emulator. A reply is a
 * valid one spoilt at one path (payload, chat, chat.replyTo and its fields, stream, event, thread,
 * buttons, the platform's media fields): wrong types, prototype keys, cycles, huge and nasty
 * strings, getters that throw, exotic values. Every message ends — done() or done(err), the error
 * a clean line at a Catch node — never an unhandled rejection; a message that must fail reaches
 * no platform; the heap stays bounded; and the next valid reply is delivered.
 */
import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import WebSocket from 'ws';
import { startTelegramServer, type TelegramServer } from '../emulators/telegram-server';
import { startSlackServer, type SlackServer } from '../emulators/slack-server';
import type { DiscordServer } from '../emulators/discord-server';
import { startWhatsAppServer, type WhatsAppServer } from '../emulators/whatsapp-server';
import { catalogTranslator, collect, getNode, helper, inbound, nodeModules, sleep, unload, useUserDir, type AnyRED } from '../helpers/red';
import { BOT, TOKEN, until } from '../helpers/telegram';
import { APP_TOKEN, BOT_TOKEN, SIGNING_SECRET, appNode, slackChat } from '../helpers/slack';
import { botNode as discordBotNode, discordChat, startEmulator as startDiscord, useHttpServer } from '../helpers/discord';
import { PATH as WA_PATH, accountNode, credentials as waCredentials, whatsappChat } from '../helpers/whatsapp';
import { assertHeapBounded, eventually, heapAfterGc, type Json } from '../helpers/hostile';
import { assertCleanError, catchNode, spoilArb, spoilAt, watchEndings, type PathSpec } from '../helpers/hostile-msg';

const RUNS = 110;

const T = {
  telegram: catalogTranslator('telegram', 'telegram-'),
  slack: catalogTranslator('slack', 'slack-'),
  discord: catalogTranslator('discord', 'discord-'),
  whatsapp: catalogTranslator('whatsapp', 'whatsapp-'),
  webhook: catalogTranslator('webhook', 'webhook-'),
  webchat: catalogTranslator('webchat', 'webchat-'),
};
/** Every catalog, by the key's prefix; the shared `chatgate.*` keys are in each. */
const translate = (key: string, params?: Record<string, string>) => (T[key.split('-')[0] as keyof typeof T] ?? T.webhook)(key, params);

function replyToSpecs(): PathSpec[] {
  const at = ['chat', 'replyTo'];
  return [
    { path: ['chat'], check: 'object' },
    { path: at, check: 'object' },
    { path: [...at, 'platform'], check: 'enum' },
    { path: [...at, 'channelId'], check: 'id' },
    { path: [...at, 'chatId'], check: 'id' },
    { path: [...at, 'userId'], check: 'id' },
    { path: [...at, 'messageId'], check: 'id', optional: true },
    { path: [...at, 'threadId'], check: 'id', optional: true },
  ];
}

/** What every out node reads: the text (a string, a number, a boolean or {text}), the address, a stream part, an event; and what it must carry harmlessly. */
function outSpecs(extra: string[]): PathSpec[] {
  return [
    { path: ['payload'], check: 'text' },
    ...replyToSpecs(),
    { path: ['stream'], check: 'object', optional: true },
    { path: ['event'], check: 'string', optional: true },
    { path: ['thread'], check: 'none' },
    { path: ['chat', 'note'], check: 'none' },
    ...extra.map((f): PathSpec => ({ path: [f], check: 'none' })),
  ];
}

let seq = 0;

interface Target {
  node: string;
  /** A valid reply (its payload carries the marker). */
  reply(marker: string): Json;
  /** Fields of the platform's own, beside the common ones. */
  extra: string[];
  /** Everything the platform received so far, to search for markers. */
  received(): string;
  /** The longest huge string to put in the text (long texts are split into many messages). */
  maxHuge?: number;
}

describe('out nodes: hostile msg objects from upstream', function () {
  this.timeout(90000);
  useHttpServer();
  let tg: TelegramServer;
  let slack: SlackServer;
  let discord: DiscordServer;
  let wa: WhatsAppServer;
  let callbacks: string[];
  let callbackServer: http.Server;
  let visitor: WebSocket;
  const frames: string[] = [];
  let caught: Array<{ _msgid: string; error: { message: string; source?: { id: string } } }>;
  const targets: Record<string, Target> = {};

  before(async () => {
    useUserDir();
    [tg, slack, discord, wa] = await Promise.all([
      startTelegramServer({ token: TOKEN, botUsername: BOT }),
      startSlackServer({ botToken: BOT_TOKEN, appToken: APP_TOKEN, signingSecret: SIGNING_SECRET }),
      startDiscord(),
      startWhatsAppServer(),
    ]);
    callbacks = [];
    callbackServer = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        callbacks.push(Buffer.concat(chunks).toString('utf8'));
        res.end();
      });
    });
    await new Promise<void>((r) => callbackServer.listen(0, '127.0.0.1', r));
    const cbUrl = `http://127.0.0.1:${(callbackServer.address() as AddressInfo).port}/cb`;

    const mods = nodeModules(['gateway', 'webhookIn', 'webhookOut', 'webchatIn', 'webchatOut', 'telegramBot', 'telegramOut', 'slackApp', 'slackOut', 'discordBot', 'discordOut', 'whatsappAccount', 'whatsappIn', 'whatsappOut']).map((mod) => (RED: AnyRED) => {
      RED._ = translate;
      return mod(RED);
    });
    await helper.load(
      [...mods, catchNode],
      [
        { id: 'f1', type: 'tab' },
        { id: 'gw', type: 'chatgate-gateway', name: 'out targets' },
        { id: 'whin', z: 'f1', type: 'chatgate-webhook-in', gateway: 'gw', path: '/ho/hook', mode: 'async', callbackUrl: cbUrl, auth: 'none', wires: [[]] },
        { id: 'webhook-out', z: 'f1', type: 'chatgate-webhook-out', gateway: 'gw' },
        { id: 'wcin', z: 'f1', type: 'chatgate-webchat-in', gateway: 'gw', path: '/ho/chat', wires: [[]] },
        { id: 'webchat-out', z: 'f1', type: 'chatgate-webchat-out', gateway: 'gw' },
        { id: 'bot', type: 'chatgate-telegram-bot', name: 'test bot', mode: 'polling', apiRoot: tg.apiRoot, throttle: false },
        { id: 'telegram-out', z: 'f1', type: 'chatgate-telegram-out', bot: 'bot', gateway: 'gw', typing: true },
        appNode(slack.apiUrl),
        { id: 'slack-out', z: 'f1', type: 'chatgate-slack-out', app: 'app', gateway: 'gw' },
        { ...discordBotNode(discord), id: 'dbot' },
        { id: 'discord-out', z: 'f1', type: 'chatgate-discord-out', bot: 'dbot', gateway: 'gw' },
        accountNode(wa),
        { id: 'wain', z: 'f1', type: 'chatgate-whatsapp-in', account: 'wa', gateway: 'gw', wires: [[]] },
        { id: 'whatsapp-out', z: 'f1', type: 'chatgate-whatsapp-out', account: 'wa', gateway: 'gw', typing: 'typing' },
        { id: 'catcher', z: 'f1', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
        { id: 'caught', z: 'f1', type: 'helper' },
      ] as never,
      { bot: { token: TOKEN }, app: { token: BOT_TOKEN, appToken: APP_TOKEN, signingSecret: SIGNING_SECRET }, dbot: { token: discord.token }, wa: waCredentials(wa) } as never,
    );
    await until(() => getNode('app').connection?.status.key === 'connected' && getNode('dbot').connection?.status.key === 'connected' && getNode('wa').connection?.status.key === 'connected' && getNode('bot').connection?.status.state === 'connected', 10000, 'every platform connected');
    caught = collect('caught');

    visitor = new WebSocket(`${helper.url().replace(/^http/, 'ws')}/ho/chat/ws?userId=v1`);
    visitor.on('message', (d) => frames.push(String(d)));
    await new Promise((r) => visitor.once('open', r));

    // WhatsApp answers only inside the window the user's last message opened.
    wa.setWebhook(`${helper.url()}${WA_PATH}`);
    const { alice } = wa.fixtures;
    const first = wa.make.text(alice, 'hello business');
    assert.equal((await wa.userSends(`${helper.url()}${WA_PATH}`, alice, first)).attempts[0].status, 200);

    const envelope = (platform: string, channelId: string, chatId: string, userId: string, marker: string): Json => {
      const m = inbound({ platform, channelId, chatId, userId }, `${marker} a reply`) as unknown as Json;
      (m.chat as Json).note = 'extra';
      return m;
    };
    const withChat = (chat: Json, marker: string): Json => ({ payload: `${marker} a reply`, chat: { ...chat, note: 'extra' } });
    Object.assign(targets, {
      webhook: { node: 'webhook-out', reply: (mk: string) => envelope('webhook', 'whin', 'c1', 'u1', mk), extra: [], received: () => callbacks.join('\n') },
      webchat: { node: 'webchat-out', reply: (mk: string) => envelope('webchat', 'wcin', 'v1', 'v1', mk), extra: ['buttons'], received: () => frames.join('\n') },
      telegram: { node: 'telegram-out', reply: (mk: string) => envelope('telegram', 'bot', '101', '101', mk), extra: ['buttons', 'photo', 'document', 'filename'], received: () => JSON.stringify(tg.sent), maxHuge: 12_000 },
      slack: { node: 'slack-out', reply: (mk: string) => withChat(slackChat({ chatId: slack.fixtures.dm, userId: slack.fixtures.user, teamId: slack.team.id }), mk), extra: ['buttons', 'file', 'filename'], received: () => JSON.stringify(slack.sent), maxHuge: 12_000 },
      discord: { node: 'discord-out', reply: (mk: string) => withChat({ ...discordChat({ chatId: discord.fixtures.channel, userId: discord.fixtures.user }), channelId: 'dbot', replyTo: { ...discordChat({ chatId: discord.fixtures.channel, userId: discord.fixtures.user }).replyTo, channelId: 'dbot' } }, mk), extra: ['buttons', 'files', 'embeds'], received: () => JSON.stringify(discord.sent), maxHuge: 8_000 },
      whatsapp: { node: 'whatsapp-out', reply: (mk: string) => withChat(whatsappChat({ userId: alice.userId, ...(alice.waId ? { waId: alice.waId } : {}), messageId: String(first.id) }), mk), extra: ['buttons', 'template', 'image', 'document', 'filename'], received: () => JSON.stringify(wa.sent), maxHuge: 8_000 },
    } satisfies Record<string, Target>);
  });
  after(async () => {
    visitor?.close();
    await unload();
    await Promise.all([tg.close(), slack.close(), discord.close(), wa.close(), new Promise((r) => callbackServer.close(r))]);
  });

  for (const name of ['webhook', 'webchat', 'telegram', 'slack', 'discord', 'whatsapp']) {
    it(`${name} out: ${RUNS} hostile replies end with done() or a clean done(err); refused ones reach nothing`, async () => {
      const t = targets[name];
      const watch = watchEndings(t.node);
      const heapBefore = await heapAfterGc();
      const refused: string[] = [];
      let errors = 0;
      let done = 0;
      const cases = fc.tuple(fc.constantFrom(...outSpecs(t.extra)), spoilArb(t.maxHuge ?? 50_000)).map(([spec, spoil]) => {
        const id = `${name}-${++seq}`;
        const marker = `MK${seq}Q`;
        const s = spoilAt(t.reply(marker), spec, spoil);
        s.msg._msgid = id;
        return Object.assign({ id, marker, ...s }, { [fc.toStringMethod]: () => `${id}: ${s.what} (must fail: ${s.mustFail})` });
      });
      await fc.assert(
        fc.asyncProperty(cases, async (c) => {
          getNode(t.node).receive(c.msg);
          const ending = await watch.ending(c.id, 8000);
          if (c.mustFail) {
            assert.ok(ending.error !== undefined, `${c.what}: delivered but must fail`);
            refused.push(c.marker);
          }
          if (ending.error !== undefined) {
            errors++;
            assertCleanError(ending.error, c.what);
            await eventually(() => caught.some((m) => m._msgid === c.id), 1000, `${c.what}: the error at the Catch node`);
            const at = caught.find((m) => m._msgid === c.id)!;
            assert.equal(at.error.source?.id, t.node);
            assertCleanError(at.error.message, `${c.what} at the Catch node`);
          } else done++;
          await sleep(0);
          assert.equal(watch.count(c.id), 1, `${c.what}: ended more than once`);
        }),
        { numRuns: RUNS, endOnFailure: true },
      );
      await sleep(300);
      const got = t.received();
      const leaked = refused.filter((mk) => got.includes(mk));
      assert.deepEqual(leaked, [], 'refused replies reached the platform');
      assert.ok(errors > 10 && done > 10, `the cases were mixed: ${errors} refused, ${done} delivered`);
      await assertHeapBounded(heapBefore, 60, `${RUNS} hostile replies at ${t.node}`);

      const marker = `AFTER${++seq}Z`;
      const last = { ...t.reply(marker), _msgid: `${name}-after` };
      getNode(t.node).receive(last);
      const ending = await watch.ending(`${name}-after`, 8000);
      assert.equal(ending.error, undefined, `the valid reply after the junk: ${ending.error}`);
      await until(() => t.received().includes(marker), 3000, `${marker} delivered to ${name}`);
    });
  }
});
