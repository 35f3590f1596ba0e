/**
 * The HTTP interactions endpoint inside Node-RED, signed with the emulator's Ed25519 key: 401 and
 * nothing in the flow for a bad, stale or missing signature; PING answered PONG; a slash command
 * deferred within milliseconds however long the agent takes (Discord allows 3 s), ephemeral when
 * set; the answer edits the deferred original and continues in follow-ups; a button press
 * acknowledged at once; no gateway in endpoint-only mode; the route removed on close.
 */
import assert from 'node:assert/strict';
import request from 'supertest';
import type { DiscordServer } from '../emulators/discord-server';
import { collect, getNode, helper, nextMessage, sleep, unload } from '../helpers/red';
import { botNode, delivered, gateway, loadFlow, type FlowNode, useEmulator, useHttpServer } from '../helpers/discord';
import { until } from '../helpers/telegram';

describe('discord interactions endpoint', function () {
  this.timeout(20000);
  let discord: DiscordServer;
  const PATH = '/discord/interactions';
  useHttpServer();
  useEmulator(() => discord, (s) => (discord = s));

  const url = () => `${helper.url()}${PATH}`;

  async function start(inOver: Record<string, unknown> = {}, receive = 'http'): Promise<void> {
    const flow: FlowNode[] = [
      gateway,
      botNode(discord, { receive, path: PATH }),
      { id: 'in', type: 'chatgate-discord-in', bot: 'bot', gateway: 'gw', wires: [['h']], ...inOver },
      { id: 'h', type: 'helper' },
      { id: 'out', type: 'chatgate-discord-out', bot: 'bot', gateway: 'gw' },
    ];
    await loadFlow(flow, { token: discord.token, publicKey: discord.publicKeyHex });
    const want = receive === 'http' ? 'http' : 'both';
    await until(() => getNode('bot').connection?.status.key === want, 8000, 'listening');
  }

  it('PING is answered PONG, and nothing reaches the flow', async () => {
    await start();
    const seen = collect('h');
    const r = await discord.postInteraction(url(), discord.make.ping());
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { type: 1 });
    await sleep(200);
    assert.equal(seen.length, 0);
    assert.equal(discord.stats.connections, 0, 'endpoint-only: no gateway session');
  });

  it('a bad, stale or missing signature gets 401 and nothing reaches the flow', async () => {
    await start();
    const seen = collect('h');
    const bad = await discord.postInteraction(url(), discord.make.slashCommand('ask', { options: { text: 'forged' } }), { badSignature: true });
    assert.equal(bad.status, 401);
    const stale = await discord.postInteraction(url(), discord.make.slashCommand('ask', { options: { text: 'replayed' } }), { stale: true });
    assert.equal(stale.status, 401);
    const unsigned = await request(helper.url()).post(PATH).set('content-type', 'application/json').send(JSON.stringify(discord.make.slashCommand('ask', { options: { text: 'unsigned' } })));
    assert.equal(unsigned.status, 401);
    const control = await discord.postInteraction(url(), discord.make.slashCommand('ask', { options: { text: 'signed' } }));
    assert.equal(control.status, 200, 'the control: a right signature passes');
    await until(() => seen.length === 1, 3000, 'the one good command');
    await sleep(200);
    assert.deepEqual(seen.map((m) => m.payload), ['signed']);
  });

  it('a slash command is deferred within milliseconds while the agent takes far longer; the late answer edits the deferral', async () => {
    await start();
    const got = nextMessage('h', 5000);
    const cmd = discord.make.slashCommand('ask', { options: { text: 'take your time' } });
    const r = await discord.postInteraction(url(), cmd);
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { type: 5 });
    assert.ok(r.ms < 500, `deferred after ${r.ms} ms`);
    assert.ok(r.applied && !r.late);
    const msg = await got;
    assert.equal(msg.discord.source, 'http');
    assert.deepEqual(msg.chat.command, { name: '/ask', args: 'take your time' });
    // The agent answers after Discord's 3 s deadline: the deferral holds the place.
    await sleep(3200);
    const done = delivered('out');
    getNode('out').receive({ payload: 'Here is **the** answer.', chat: msg.chat });
    await done;
    const it = discord.interaction(String(cmd.id))!;
    assert.equal(it.failed, undefined, 'Discord never showed "This interaction failed"');
    const original = discord.message(discord.fixtures.channel, it.originalMessageId!)!;
    assert.equal(original.loading, false);
    assert.ok(original.content.includes('answer'), original.content);
    assert.equal(discord.channel(discord.fixtures.channel).filter((m) => m.fromBot).length, 1, 'the answer replaced the deferral; no extra message');
    assert.ok(discord.sent.some((c) => c.op === 'editOriginal' && c.auth === 'none'));
  });

  it('ephemeral: the deferral and every part of the answer are seen only by the user; further parts are follow-ups', async () => {
    await start({ ephemeral: true });
    const got = nextMessage('h', 5000);
    const cmd = discord.make.slashCommand('ask', { options: { text: 'long please' } });
    const r = await discord.postInteraction(url(), cmd);
    assert.deepEqual(r.json, { type: 5, data: { flags: 64 } });
    const msg = await got;
    const long = Array.from({ length: 60 }, (_, i) => `Paragraph ${i}: ${'words '.repeat(10)}`).join('\n\n');
    const done = delivered('out');
    getNode('out').receive({ payload: long, chat: msg.chat });
    await done;
    const it = discord.interaction(String(cmd.id))!;
    assert.ok(it.followups.length >= 1, 'follow-ups for the further parts');
    const mine = discord.channel(discord.fixtures.channel).filter((m) => m.fromBot);
    assert.equal(mine.length, 1 + it.followups.length);
    for (const m of mine) {
      assert.equal(m.ephemeral, true);
      assert.equal(m.visibleTo, discord.fixtures.user);
      assert.ok(m.content.length <= 2000);
    }
    assert.deepEqual(discord.mentionsPinged, []);
  });

  it('a button press is acknowledged at once (deferred update) and its data is the payload', async () => {
    await start();
    await getNode('bot').connection.calls.call('POST', `/channels/${discord.fixtures.channel}/messages`, {
      kind: 'create',
      body: { content: 'pick', allowed_mentions: { parse: [] }, components: [{ type: 1, components: [{ type: 2, style: 1, label: 'Go', custom_id: 'go' }] }] },
    });
    const got = nextMessage('h', 5000);
    const r = await discord.postInteraction(url(), discord.make.component('go'));
    assert.deepEqual(r.json, { type: 6 });
    assert.equal((await got).payload, 'go');
  });

  it('with the gateway too: commands still arrive over the endpoint, messages over the gateway', async () => {
    await start({}, 'both');
    assert.equal(discord.stats.openSockets, 1);
    const seen = collect('h');
    await discord.postInteraction(url(), discord.make.slashCommand('ask', { options: { text: 'over http' } }));
    discord.deliver(discord.make.dm('over the gateway'));
    await until(() => seen.length === 2, 5000, 'both');
    assert.deepEqual(seen.map((m) => m.discord.source).sort(), ['gateway', 'http']);
  });

  it('the route is removed on close', async () => {
    await start();
    await unload();
    const r = await discord.postInteraction(url(), discord.make.ping());
    assert.equal(r.status, 404);
  });
});
