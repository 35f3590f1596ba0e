/**
 * The Discord nodes against a server that is not Discord: a proxy in front of the emulator that
 * answers the calls it spoils with error bodies of unexpected shapes (no JSON, HTML, null, a closed
 * socket, a 429 without Retry-After, an answer echoing the Authorization header). Node-RED must
 * stay up (the suite fails on any unhandled rejection), every reply must end — at a real Catch node
 * as a clean sentence with no token — and a 429 that names no wait must not be repeated forever.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import type { DiscordServer } from '../emulators/discord-server';
import { BAD_ANSWERS, startHostileServer, type HostileServer } from '../emulators/hostile-server';
import { getNode, helper, nodeModules, unload, useUserDir, type AnyRED } from '../helpers/red';
import { discordChat, MODULES, startEmulator, translate, type FlowNode } from '../helpers/discord';
import { until } from '../helpers/telegram';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const catchNode = require(path.join(path.dirname(require.resolve('@node-red/nodes/package.json')), 'core/common/25-catch.js'));

describe('discord nodes against a server that answers badly', function () {
  this.timeout(30000);
  let discord: DiscordServer;
  let hostile: HostileServer;

  beforeEach(async () => {
    useUserDir();
    discord = await startEmulator();
  });
  afterEach(async () => {
    await unload();
    await hostile?.close();
    await discord.close();
  });

  async function load(botOver: Record<string, unknown> = {}): Promise<void> {
    const flow: FlowNode[] = [
      { id: 'f1', type: 'tab' },
      { id: 'bot', type: 'chatgate-discord-bot', apiRoot: hostile.url, commands: [], callTimeout: 2, retryMin: 0.02, retryMax: 0.1, maxRateWait: 5, ...botOver },
      { id: 'out', z: 'f1', type: 'chatgate-discord-out', bot: 'bot', typing: true },
      { id: 'catcher', type: 'catch', z: 'f1', scope: null, uncaught: false, wires: [['caught']] },
      { id: 'caught', type: 'helper', z: 'f1' },
    ];
    const mods = nodeModules(MODULES).map((mod) => (RED: AnyRED) => {
      const own = RED._;
      RED._ = (key: string, params?: Record<string, string>) => (key.startsWith('discord-') ? translate(key, params) : own(key, params));
      return mod(RED);
    });
    await helper.load([...mods, catchNode], flow as never, { bot: { token: discord.token } } as never);
  }

  function assertClean(text: string): void {
    assert.ok(text.trim().length > 0, 'an empty error');
    assert.ok(!text.includes(discord.token), `the token in: ${text}`);
    assert.ok(!/\[object Object\]|: undefined\b/.test(text), `a formatting accident in: ${text}`);
  }

  it('every failed reply reaches the Catch node as a clean sentence', async () => {
    hostile = await startHostileServer({ target: discord.baseUrl, spoil: (p) => /\/channels\/\d+\/messages/.test(p) });
    await load();
    await until(() => getNode('bot').connection?.status.key === 'connected', 8000, 'ready');
    const caught: Array<{ error: { message: string } }> = [];
    getNode('caught').on('input', (m: { error: { message: string } }) => caught.push(m));
    const channels = Array.from({ length: BAD_ANSWERS.length }, (_, i) => discord.addChannel({ name: `bad-${i}` }).id);
    for (const c of channels) getNode('out').receive({ payload: 'a reply', chat: discordChat({ chatId: c, userId: discord.fixtures.user }) });
    await until(() => caught.length === channels.length, 20000, `every reply at the Catch node (${caught.length})`);
    for (const m of caught) assertClean(m.error.message);
    if (process.env.SHOW) console.log(caught.map((m) => m.error.message).join('\n'));
  });

  it('failed typing signals (every bad answer) never take Node-RED down, and the reply after them is sent', async () => {
    hostile = await startHostileServer({ target: discord.baseUrl, spoil: (p) => /\/typing$/.test(p), answers: BAD_ANSWERS.filter((a) => a.body !== 'ECHO') });
    await load();
    await until(() => getNode('bot').connection?.status.key === 'connected', 8000, 'ready');
    const chat = discordChat({ chatId: discord.fixtures.channel, userId: discord.fixtures.user });
    for (let i = 0; i < BAD_ANSWERS.length; i++) getNode('out').receive({ event: 'typing', payload: '', chat: discordChat({ chatId: discord.addChannel({ name: `t-${i}` }).id, userId: discord.fixtures.user }) });
    await until(() => hostile.spoiled.length >= BAD_ANSWERS.length - 1, 10000, 'every typing call');
    getNode('out').receive({ payload: 'still works', chat });
    await discord.waitForMessage(discord.fixtures.channel, (m) => m.fromBot && m.content === 'still works', 5000);
  });

  it('a 429 without Retry-After, over and over, fails the reply instead of being repeated forever', async () => {
    const storm = [{ name: '429 without Retry-After', status: 429, contentType: 'application/json', body: '{"message":"You are being rate limited.","retry_after":"soon"}' }];
    hostile = await startHostileServer({ target: discord.baseUrl, spoil: (p) => /\/channels\/\d+\/messages/.test(p), answers: storm });
    await load();
    await until(() => getNode('bot').connection?.status.key === 'connected', 8000, 'ready');
    const caught: Array<{ error: { message: string } }> = [];
    getNode('caught').on('input', (m: { error: { message: string } }) => caught.push(m));
    getNode('out').receive({ payload: 'a reply', chat: discordChat({ chatId: discord.fixtures.channel, userId: discord.fixtures.user }) });
    await until(() => caught.length === 1, 10000, 'the failure');
    assertClean(caught[0].error.message);
    assert.ok(hostile.spoiled.length <= 10, `asked ${hostile.spoiled.length} times`);
  });

  it('the bot config node says what is wrong when /users/@me is answered badly, and keeps retrying without a crash', async () => {
    hostile = await startHostileServer({ target: discord.baseUrl, spoil: (p) => p.endsWith('/users/@me'), answers: BAD_ANSWERS.filter((a) => a.status !== 401 && a.body !== 'ECHO') });
    await load();
    await until(() => hostile.spoiled.length >= 4, 10000, 'a few attempts');
    const status = getNode('bot').connection.status;
    assert.ok(['retrying', 'connecting', 'error'].includes(status.key), status.key);
    assertClean(JSON.stringify(status));
  });
});
