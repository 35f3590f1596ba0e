/**
 * The discord bot config node in the real runtime against the Discord emulator, with the real
 * discord.js: one gateway session per bot, opened with the first user and closed with the last;
 * a wrong token and a refused privileged intent stop with a plain status and are never retried;
 * a connection reset or a zombie connection never takes Node-RED down (the suite fails on any
 * unhandled rejection) and heals by discord.js's RESUME; commands registered one by one, foreign
 * ones left alone; no token or public key in any log line or status.
 */
import assert from 'node:assert/strict';
import type { DiscordServer } from '../emulators/discord-server';
import { enforcePermissionsByHeader, getNode, helper, setRedPatch, sleep, unload } from '../helpers/red';
import { botNode, everythingSaid, gateway, loadFlow, startEmulator, statusTexts, type FlowNode, useEmulator } from '../helpers/discord';
import { until } from '../helpers/telegram';

describe('discord bot', function () {
  this.timeout(20000);
  let discord: DiscordServer;
  useEmulator(() => discord, (s) => (discord = s));

  function flow(botOver: Record<string, unknown> = {}, nodes: { in?: boolean; out?: boolean } = { in: true }): FlowNode[] {
    return [
      gateway,
      botNode(discord, botOver),
      ...(nodes.in ? [{ id: 'in', type: 'chatgate-discord-in', bot: 'bot', gateway: 'gw', wires: [['h']] }, { id: 'h', type: 'helper' }] : []),
      ...(nodes.out ? [{ id: 'out', type: 'chatgate-discord-out', bot: 'bot', gateway: 'gw' }] : []),
    ];
  }

  const key = () => getNode('bot').connection?.status.key as string | undefined;

  it('connects over the gateway once and says so on every node', async () => {
    await loadFlow(flow({}, { in: true, out: true }), { token: discord.token });
    await until(() => key() === 'gateway', 8000, 'connected');
    assert.equal(discord.stats.openSockets, 1);
    assert.equal(discord.identifies.length, 1);
    const intents = discord.identifies[0].intents;
    assert.equal(intents & (1 << 15), 0, 'no Message Content intent unless asked');
    assert.equal(intents & ((1 << 0) | (1 << 9) | (1 << 12)), (1 << 0) | (1 << 9) | (1 << 12), 'guilds, guild messages, DMs');
    await until(() => statusTexts('in').includes(`connected as @${discord.bot.username}`), 2000, 'the in node status');
    await until(() => statusTexts('out').includes(`connected as @${discord.bot.username}`), 2000, 'the out node status');
  });

  it('an out node alone opens no gateway session (REST only)', async () => {
    await loadFlow(flow({}, { out: true }), { token: discord.token });
    await until(() => key() === 'connected', 5000, 'ready');
    await sleep(300);
    assert.equal(discord.stats.connections, 0);
    assert.ok(statusTexts('out').includes(`ready as @${discord.bot.username}`));
  });

  it('closes with the last user; a redeploy never has two sessions at once', async () => {
    await loadFlow(flow(), { token: discord.token });
    await until(() => key() === 'gateway', 8000, 'connected');
    await unload();
    await discord.waitForSockets((s) => s.openSockets === 0, 3000);
    await loadFlow(flow(), { token: discord.token });
    await until(() => key() === 'gateway', 8000, 'connected again');
    await unload();
    await loadFlow(flow(), { token: discord.token });
    await until(() => key() === 'gateway', 8000, 'connected a third time');
    assert.equal(discord.identifies.length, 3, 'a new session per deploy');
    assert.equal(discord.stats.maxOpenSockets, 1);
    assert.equal(discord.stats.openSockets, 1);
  });

  it('a redeploy at any moment of the login or of a reconnect leaves no gateway session behind', async () => {
    // discord.js's destroy() during login() (or a shard's reconnect) would leave a live socket.
    for (const wait of [0, 4, 8, 12, 16, 24]) {
      await loadFlow(flow(), { token: discord.token });
      await sleep(wait);
      const started = Date.now();
      await unload();
      assert.ok(Date.now() - started < 2000, `the close took ${Date.now() - started} ms`);
      await discord.waitForSockets((s) => s.openSockets === 0, 2000);
      await sleep(700);
      assert.equal(discord.stats.openSockets, 0, `a session left behind after a redeploy ${wait} ms into the login`);
    }
    await loadFlow(flow(), { token: discord.token });
    await until(() => key() === 'gateway', 8000, 'connected');
    discord.inject.closeGateway(1006);
    await sleep(100);
    await unload();
    await sleep(1000);
    assert.equal(discord.stats.openSockets, 0, 'a session left behind after a redeploy during a reconnect');
  });

  it('a wrong token stops with a plain status and is never retried', async () => {
    const wrong = `${discord.token.slice(0, -4)}XXXX`;
    await loadFlow(flow(), { token: wrong });
    await until(() => key() === 'unauthorized', 5000, 'unauthorized');
    await sleep(800);
    assert.equal(discord.stats.connections, 0, 'no gateway session with a refused token');
    const calls = discord.sent.filter((c) => c.status === 401);
    assert.equal(calls.length, 1, `one refused call, not a retry loop: ${discord.sent.map((c) => c.op).join(',')}`);
    assert.ok(statusTexts('in').some((t) => t.startsWith('Discord refused the bot token')), statusTexts('in').join(' | '));
    const said = everythingSaid('in').join('\n');
    assert.ok(!said.includes(wrong) && !said.includes(discord.token), 'no token in any status or log');
  });

  it('a token refused by the gateway (4004) stops with a plain status; no second IDENTIFY', async () => {
    discord.inject.revokeToken({ only: 'gateway' });
    await loadFlow(flow(), { token: discord.token });
    await until(() => key() === 'unauthorized', 8000, 'unauthorized');
    await sleep(1500);
    assert.equal(discord.identifies.length, 1);
    assert.equal(discord.identifies[0].refused, 4004);
    assert.ok(statusTexts('in').some((t) => t.includes('Discord refused the bot token')));
  });

  it('a refused privileged intent (4014) says to enable it in the developer portal; not retried', async () => {
    await discord.close();
    discord = await startEmulator({ privilegedIntents: 0 });
    await loadFlow(flow({ messageContent: true }), { token: discord.token });
    await until(() => key() === 'disallowedIntents', 8000, '4014');
    await sleep(1500);
    assert.equal(discord.identifies.length, 1);
    assert.ok(statusTexts('in').some((t) => t.includes('Privileged Gateway Intents') && t.includes('developer portal')), statusTexts('in').join(' | '));
  });

  it('a connection reset and a zombie connection heal by RESUME, without taking Node-RED down', async () => {
    await loadFlow(flow(), { token: discord.token });
    await until(() => key() === 'gateway', 8000, 'connected');
    discord.inject.closeGateway(1006);
    await until(() => discord.resumes.filter((r) => r.ok).length === 1, 8000, 'the first resume');
    await until(() => key() === 'gateway', 5000, 'back');
    discord.inject.zombie();
    await until(() => discord.resumes.filter((r) => r.ok).length === 2, 8000, 'the resume after the zombie');
    await until(() => key() === 'gateway', 5000, 'back again');
    assert.equal(discord.identifies.length, 1, 'resumed, never identified again');
    const got = new Promise((r) => getNode('h').once('input', r));
    discord.deliver(discord.make.dm('still here?'));
    await got;
  });

  it('an unreachable API is retried with a status, and connects once it answers', async () => {
    discord.inject.failNext('GET /users/@me', 2, { status: 502 });
    await loadFlow(flow(), { token: discord.token });
    await until(() => key() === 'gateway', 8000, 'connected after the failures');
    assert.ok(statusTexts('in').some((t) => t.startsWith('cannot reach Discord, retrying')), statusTexts('in').join(' | '));
  });

  it('registers its own commands one by one and leaves a foreign command in place', async () => {
    await discord.close();
    discord = await startEmulator({ commands: [{ name: 'foreign', description: 'made elsewhere' }, { name: 'ask', description: 'an old description' }] });
    const commands = [
      { name: 'ask', description: 'Ask the agent', text: true },
      { name: 'reset', description: 'Start over', text: false },
    ];
    await loadFlow(flow({ commands }), { token: discord.token });
    await until(() => discord.commands().some((c) => c.name === 'reset'), 5000, 'registered');
    await until(() => discord.commands().find((c) => c.name === 'ask')?.description === 'Ask the agent', 3000, 'updated');
    const names = discord.commands().map((c) => c.name).sort();
    assert.deepEqual(names, ['ask', 'foreign', 'reset']);
    assert.equal(discord.commands().find((c) => c.name === 'foreign')!.description, 'made elsewhere');
    assert.deepEqual(discord.commandOverwrites, [], 'never PUT the whole set');
    const ask = discord.commands().find((c) => c.name === 'ask')!;
    assert.deepEqual((ask.options as Array<{ name: string; type: number; required: boolean }>).map((o) => [o.name, o.type, o.required]), [['text', 3, true]]);
    // A second deploy finds them right and changes nothing.
    const before = discord.sent.filter((c) => /Command$/.test(c.op) && c.method !== 'GET').length;
    await unload();
    await loadFlow(flow({ commands }), { token: discord.token });
    await until(() => discord.sent.filter((c) => c.method === 'GET' && /commands$/.test(c.path)).length >= 2, 5000, 'the second look');
    await sleep(300);
    assert.equal(discord.sent.filter((c) => /Command$/.test(c.op) && c.method !== 'GET').length, before);
  });

  it('per-guild commands go to the listed servers only', async () => {
    await loadFlow(flow({ commands: [{ name: 'ask', description: 'Ask', text: true }], commandScope: 'guilds', guildIds: discord.fixtures.guild }), { token: discord.token });
    await until(() => discord.commands(discord.fixtures.guild).some((c) => c.name === 'ask'), 5000, 'the guild command');
    assert.equal(discord.commands().length, 0);
  });

  it('the register-commands admin route needs write permission and registers on demand', async () => {
    setRedPatch(enforcePermissionsByHeader);
    try {
      await loadFlow(flow({ commands: [{ name: 'ask', description: 'Ask', text: true }], registerOnDeploy: false }), { token: discord.token });
      await until(() => key() === 'gateway', 8000, 'connected');
      assert.equal(discord.commands().length, 0, 'nothing on deploy when turned off');
      const app = helper.request();
      await app.post('/chatgate/discord/bot/commands').expect(401);
      await app.post('/chatgate/discord/bot/commands').set('x-test-permissions', 'chatgate-discord-bot.read').expect(403);
      const r = await app.post('/chatgate/discord/bot/commands').set('x-test-permissions', 'chatgate-discord-bot.write').expect(200);
      assert.deepEqual(r.body.results, [{ name: 'ask', scope: 'global', action: 'created' }]);
      assert.ok(discord.commands().some((c) => c.name === 'ask'));
      await app.post('/chatgate/discord/nope/commands').set('x-test-permissions', 'write').expect(404);
    } finally {
      setRedPatch(undefined);
    }
  });

  it('no token or public key in any log line or status, whatever fails', async () => {
    const publicKey = discord.publicKeyHex;
    discord.inject.failNext('GET /users/@me', 1, { status: 500, body: `internal error for ${discord.token}` });
    await loadFlow(flow({ receive: 'both', path: '/discord/x' }), { token: discord.token, publicKey });
    await until(() => key() === 'both', 8000, 'connected');
    discord.inject.closeGateway(1006);
    await until(() => discord.resumes.some((r) => r.ok), 8000, 'the resume');
    await getNode('bot').connection.calls.call('GET', `/channels/1${discord.token}`, { kind: 'read', retries: 0 }).catch(() => undefined);
    const said = everythingSaid('in').join('\n');
    assert.ok(!said.includes(discord.token), 'no bot token');
    assert.ok(!said.includes(publicKey), 'no public key');
  });
});
