/**
 * The Discord example flows as shipped, run whole in the real runtime: the Discord emulator stands
 * in for Discord and the fake OpenAI-compatible server for the model. Only what an operator would
 * change is changed (the API base URL, the model's URL, the allowlist opened), and the debug and
 * comment nodes are left out (this runtime loads only chatgate's nodes).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startOpenAIServer, type FakeOpenAIServer } from '../emulators/openai-server';
import type { DiscordServer } from '../emulators/discord-server';
import { helper, nodeModules, unload, useUserDir, type AnyRED } from '../helpers/red';
import { startEmulator, translate, type FlowNode, useHttpServer } from '../helpers/discord';
import { until } from '../helpers/telegram';

function example(name: string): FlowNode[] {
  return JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../examples', name), 'utf8')) as FlowNode[];
}

describe('discord example flows', function () {
  this.timeout(30000);
  let discord: DiscordServer;
  let model: FakeOpenAIServer;
  useHttpServer();

  beforeEach(async () => {
    useUserDir();
    discord = await startEmulator();
    model = await startOpenAIServer({ behavior: { chunks: 6, chunkDelayMs: 20 } });
  });
  afterEach(async () => {
    await unload();
    await discord.close();
    await model.close();
  });

  async function run(file: string): Promise<string> {
    const flow = example(file)
      .filter((n) => n.type !== 'comment' && n.type !== 'debug')
      .map((n) => {
        if (n.type === 'chatgate-discord-bot') return { ...n, apiRoot: discord.baseUrl };
        if (n.type === 'chatgate-allowlist-filter') return { ...n, mode: 'open' };
        if (n.type === 'chatgate-agent-call') return { ...n, baseUrl: model.url, model: 'fake-model', streamInterval: 100 };
        return n;
      });
    const ids = new Set(flow.map((n) => n.id));
    for (const n of flow) if (Array.isArray(n.wires)) n.wires = (n.wires as string[][]).map((port) => port.filter((w) => ids.has(w)));
    const bot = flow.find((n) => n.type === 'chatgate-discord-bot')!;
    const mods = nodeModules(['gateway', 'discordBot', 'discordIn', 'discordOut', 'allowlistFilter', 'threadResolver', 'agentCall', 'replyRouter']).map((mod) => (RED: AnyRED) => {
      const _ = RED._;
      RED._ = (key: string, params?: Record<string, string>) => (key.startsWith('discord-') ? translate(key, params) : _(key, params));
      return mod(RED);
    });
    await helper.load(mods, flow as Parameters<typeof helper.load>[1], { [bot.id]: { token: discord.token, publicKey: discord.publicKeyHex } });
    return bot.id;
  }

  const fromBot = (channel: string) => discord.channel(channel).filter((m) => m.fromBot);

  it('discord-agent-bot: a DM, a mention and /ask are answered by the agent; its commands are registered', async () => {
    const botId = await run('discord-agent-bot.json');
    await until(() => (helper.getNode(botId) as AnyRED)?.connection?.status.key === 'gateway', 8000, 'connected');
    discord.deliver(discord.make.dm('hello agent'));
    await until(() => fromBot(discord.fixtures.dm).some((m) => m.content.includes('hello agent') && m.content.includes('user turns: 1')), 10000, 'the DM answer');

    const mention = discord.make.mention('and in the channel?');
    discord.deliver(mention);
    await until(() => fromBot(discord.fixtures.channel).some((m) => m.content.includes('and in the channel?')), 10000, 'the channel answer');
    const answer = fromBot(discord.fixtures.channel)[0];
    assert.equal(answer.replyTo, mention.id, 'the example quotes the question');

    await until(() => discord.commands().some((c) => c.name === 'ask') && discord.commands().some((c) => c.name === 'reset'), 5000, 'the commands');
    const cmd = discord.make.slashCommand('ask', { options: { text: 'by command' } });
    discord.deliver(cmd);
    await until(() => {
      const it = discord.interaction(String(cmd.id));
      const original = it?.originalMessageId ? discord.message(discord.fixtures.channel, it.originalMessageId) : undefined;
      return original !== undefined && !original.loading && original.content.includes('by command');
    }, 10000, 'the command answer');
    assert.deepEqual(discord.mentionsPinged, []);
  });

  it('discord-slash-command: /ask over the signed endpoint, deferred at once, ephemeral, answered by edits', async () => {
    const botId = await run('discord-slash-command.json');
    await until(() => (helper.getNode(botId) as AnyRED)?.connection?.status.key === 'http', 8000, 'listening');
    const cmd = discord.make.slashCommand('ask', { options: { text: 'over http' } });
    const r = await discord.postInteraction(`${helper.url()}/chatgate/discord/interactions`, cmd);
    assert.deepEqual(r.json, { type: 5, data: { flags: 64 } });
    assert.ok(r.ms < 1000);
    await until(() => {
      const it = discord.interaction(String(cmd.id));
      const original = it?.originalMessageId ? discord.message(discord.fixtures.channel, it.originalMessageId) : undefined;
      return original !== undefined && !original.loading && original.content.includes('over http');
    }, 10000, 'the answer');
    const it = discord.interaction(String(cmd.id))!;
    const original = discord.message(discord.fixtures.channel, it.originalMessageId!)!;
    assert.equal(original.ephemeral, true);
    assert.equal(discord.stats.connections, 0, 'no gateway session');
  });
});
