/**
 * The telegram bot config node: one connection shared by its users, opened with the first and
 * closed with the last, its status on every user and in the gateway's channel registry, and what
 * it says when the token, the webhook settings or the network are wrong.
 */
import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Node } from 'node-red';
import { startTelegramServer, type TelegramServer } from '../emulators/telegram-server';
import { getNode, helper, sleep, unload, useUserDir } from '../helpers/red';
import { botNode, loadFlow, statusTexts, TOKEN, until, type FlowNode } from '../helpers/telegram';

/** A stand-in user node (an out node, say) registering with the bot through the public API. */
function fakeUser(id: string): Node {
  return { id, type: 'test-user', status: () => undefined } as unknown as Node;
}

describe('telegram bot config node', function () {
  let tg: TelegramServer;

  beforeEach(async () => {
    useUserDir();
    tg = await startTelegramServer({ token: TOKEN });
  });
  afterEach(async () => {
    await unload();
    await tg.close();
  });

  const gw: FlowNode = { id: 'gw', type: 'chatgate-gateway', name: 'test gateway' };

  it('opens with its first user and closes with its last; users that only send never poll', async () => {
    await loadFlow([gw, botNode(tg.apiRoot)]);
    const bot = getNode('bot');
    await sleep(100);
    assert.equal(tg.calls.length, 0, 'no users: no connection');

    const seen: string[][] = [[], []];
    const sender = fakeUser('out1');
    const other = fakeUser('out2');
    bot.register(sender, { sink: { status: (_s: string, text: string) => seen[0].push(text) } });
    bot.register(other, { sink: { status: (_s: string, text: string) => seen[1].push(text) } });
    const me = await bot.connection.ready();
    assert.equal(me.username, tg.bot.username);
    await until(() => seen.every((s) => s.at(-1) === `connected as @${tg.bot.username}`), 2000, 'status on both users');
    await sleep(100);
    assert.equal(tg.calls.filter((c) => c.method === 'getUpdates').length, 0, 'senders do not consume updates');

    const receiver = fakeUser('in1');
    bot.register(receiver, { receive: true });
    await tg.nextPoll();

    await new Promise<void>((r) => bot.deregister(receiver, r));
    const polls = tg.calls.filter((c) => c.method === 'getUpdates').length;
    await sleep(150);
    assert.equal(tg.stats.activePolls, 0, 'polling stopped with the last receiver');
    assert.equal(tg.calls.filter((c) => c.method === 'getUpdates').length, polls);

    await new Promise<void>((r) => bot.deregister(sender, r));
    assert.equal(bot.connection.status.key, 'connected', 'still open for the remaining user');
    await new Promise<void>((r) => bot.deregister(other, r));
    assert.equal(bot.connection.status.key, 'stopped');
  });

  it('sends through api, retrying after retry_after', async () => {
    await loadFlow([gw, botNode(tg.apiRoot)]);
    const bot = getNode('bot');
    bot.register(fakeUser('out'));
    await bot.connection.ready();
    tg.inject.failNext('sendMessage', 1, { error_code: 429, description: 'Too Many Requests: retry after 1', retry_after: 1 });
    const started = Date.now();
    const m = await bot.connection.api.sendMessage(1001, 'hello');
    assert.ok(Date.now() - started >= 900, 'waited retry_after');
    assert.deepEqual(
      tg.sent.filter((c) => c.method === 'sendMessage').map((c) => c.error?.error_code ?? 'ok'),
      [429, 'ok'],
    );
    assert.equal(tg.chat(1001).filter((v) => v.fromBot).length, 1, 'sent once');
    assert.equal(m.text, 'hello');
  });

  it('shows its status on in nodes and in the gateway channel registry', async () => {
    await loadFlow([gw, botNode(tg.apiRoot), { id: 'in', type: 'chatgate-telegram-in', bot: 'bot', gateway: 'gw', wires: [[]] }]);
    await until(() => getNode('bot').connection.status.state === 'connected');
    const entry = getNode('gw').gateway.state.channels.get('in');
    assert.equal(entry?.state, 'connected');
    assert.equal(entry?.platform, 'telegram');
    assert.deepEqual(statusTexts('in').slice(0, 1), ['connecting']);
  });

  it('a Bot API that never answers: getMe times out with a status, no hang', async () => {
    const sockets = new Set<Socket>();
    const silent = http.createServer(() => undefined);
    silent.on('connection', (s) => sockets.add(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const root = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
      await loadFlow([gw, botNode(root, { callTimeout: 0.2 }), { id: 'in', type: 'chatgate-telegram-in', bot: 'bot', gateway: 'gw', wires: [[]] }]);
      await until(() => statusTexts('in').includes('no answer from the Bot API within 0.2 s'), 2000, 'timeout status');
      const started = Date.now();
      await unload();
      assert.ok(Date.now() - started < 1000, 'closes at once');
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => silent.close(r));
    }
  });

  it('names what is missing: no token, a malformed token, webhook without a public URL', async () => {
    await loadFlow([gw, botNode(tg.apiRoot), { id: 'in', type: 'chatgate-telegram-in', bot: 'bot', gateway: 'gw', wires: [[]] }], '');
    assert.match(statusTexts('in').at(-1) ?? '', /no bot token/);
    await unload();
    await loadFlow([gw, botNode(tg.apiRoot), { id: 'in', type: 'chatgate-telegram-in', bot: 'bot', gateway: 'gw', wires: [[]] }], 'https://api.telegram.org/bot123:abc');
    assert.match(statusTexts('in').at(-1) ?? '', /does not look like/);
    assert.ok(!JSON.stringify(helper.log().args).includes('123:abc'));
    await unload();
    await loadFlow([gw, botNode(tg.apiRoot, { mode: 'webhook' }), { id: 'in', type: 'chatgate-telegram-in', bot: 'bot', gateway: 'gw', wires: [[]] }]);
    assert.match(statusTexts('in').at(-1) ?? '', /webhook mode needs the public URL/);
    assert.equal(tg.calls.length, 0);
  });

  it('a server that ignores long polling is not asked hundreds of times a second, and says so', async () => {
    const hasty = await startTelegramServer({ token: TOKEN, ignorePollTimeout: true });
    try {
      await loadFlow([gw, botNode(hasty.apiRoot), { id: 'in', type: 'chatgate-telegram-in', bot: 'bot', gateway: 'gw', wires: [['h']] }, { id: 'h', type: 'helper' }]);
      await until(() => getNode('bot').connection.status.state === 'connected', 3000, 'connected');
      const polls = () => hasty.calls.filter((c) => c.method === 'getUpdates').length;
      const before = polls();
      await sleep(1000);
      const inOneSecond = polls() - before;
      assert.ok(inOneSecond <= 20, `${inOneSecond} getUpdates in 1 s`);
      assert.ok(inOneSecond >= 1, 'it still polls');
      assert.ok(statusTexts('in').includes(`connected as @${hasty.bot.username} (the Bot API server ignores long polling; polls are spaced out)`), JSON.stringify(statusTexts('in')));

      const sentAt = Date.now();
      const arriving = new Promise((resolve) => getNode('h').once('input', resolve));
      hasty.pushUpdate(hasty.make.text('still heard'));
      await arriving;
      assert.ok(Date.now() - sentAt < 1500, `the update took ${Date.now() - sentAt} ms`);
    } finally {
      await unload();
      await hasty.close();
    }
  });

  it('a long poll of 0 s (short polling) is spaced out the same way, without the note', async () => {
    await loadFlow([gw, botNode(tg.apiRoot, { pollTimeout: 0 }), { id: 'in', type: 'chatgate-telegram-in', bot: 'bot', gateway: 'gw', wires: [['h']] }, { id: 'h', type: 'helper' }]);
    await until(() => getNode('bot').connection.status.state === 'connected', 3000, 'connected');
    const polls = () => tg.calls.filter((c) => c.method === 'getUpdates').length;
    const before = polls();
    await sleep(1000);
    assert.ok(polls() - before <= 20, `${polls() - before} getUpdates in 1 s`);
    const arriving = new Promise((resolve) => getNode('h').once('input', resolve));
    tg.pushUpdate(tg.make.text('short polled'));
    await arriving;
    assert.ok(!statusTexts('in').some((t) => /ignores long polling/.test(t)), 'asking for 0 s is no server fault');
  });

  it('real long polling is not slowed: a held poll and a poll with updates are followed at once', async () => {
    await loadFlow([gw, botNode(tg.apiRoot), { id: 'in', type: 'chatgate-telegram-in', bot: 'bot', gateway: 'gw', wires: [['h']] }, { id: 'h', type: 'helper' }]);
    await until(() => getNode('bot').connection.status.state === 'connected', 3000, 'connected');
    await tg.nextPoll(); // a held 1 s poll
    const got: number[] = [];
    getNode('h').on('input', () => got.push(Date.now()));
    for (let i = 0; i < 5; i++) {
      tg.pushUpdate(tg.make.text(`quick ${i}`));
      await until(() => got.length === i + 1, 1000, `update ${i}`);
    }
    const gaps = tg.calls.filter((c) => c.method === 'getUpdates').map((c, i, all) => (i ? c.at - all[i - 1].at : 0));
    assert.ok(Math.max(...gaps.slice(-5)) < 200, `polls followed each other at once: ${gaps.join(', ')}`);
    await until(() => tg.calls.filter((c) => c.method === 'getUpdates').length >= 8, 3000, 'a held poll again');
    assert.ok(!statusTexts('in').some((t) => /ignores long polling/.test(t)), 'no note for a server that holds polls');
  });

  it('an in node without a bot or a gateway says so', async () => {
    await loadFlow([gw, { id: 'in', type: 'chatgate-telegram-in', gateway: 'gw', wires: [[]] }]);
    assert.match(statusTexts('in').at(-1) ?? '', /no telegram bot config node selected/);
  });
});
