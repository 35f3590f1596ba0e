/**
 * The Slack example flows as shipped, run whole in the real runtime: the Slack emulator stands in
 * for Slack and the fake OpenAI-compatible server for the model. Only what an operator would
 * change is changed (the API base URL, the model's URL, the allowlist opened), and the debug and
 * comment nodes are left out (this runtime loads only chatgate's nodes).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startOpenAIServer, type FakeOpenAIServer } from '../emulators/openai-server';
import type { SlackServer } from '../emulators/slack-server';
import { captured, helper, nodeModules, unload, useUserDir, type AnyRED } from '../helpers/red';
import { APP_TOKEN, BOT_TOKEN, SIGNING_SECRET, translate, type FlowNode, startEmulator } from '../helpers/slack';
import { until } from '../helpers/telegram';

function example(name: string): FlowNode[] {
  return JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../examples', name), 'utf8')) as FlowNode[];
}

describe('slack example flows', function () {
  this.timeout(30000);
  let slack: SlackServer;
  let model: FakeOpenAIServer;

  before(async () => {
    await helper.startServer();
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    (helper as any)._app.use((req: any, res: any, next: any) => (captured.RED ? captured.RED.httpNode(req, res, next) : next()));
  });
  after(async () => {
    await helper.stopServer();
  });
  beforeEach(async () => {
    useUserDir();
    slack = await startEmulator();
    model = await startOpenAIServer({ behavior: { chunks: 6, chunkDelayMs: 20 } });
  });
  afterEach(async () => {
    await unload();
    await slack.close();
    await model.close();
  });

  async function run(file: string): Promise<string> {
    const flow = example(file)
      .filter((n) => n.type !== 'comment' && n.type !== 'debug')
      .map((n) => {
        if (n.type === 'chatgate-slack-app') return { ...n, apiRoot: slack.baseUrl, pingTimeout: 1 };
        if (n.type === 'chatgate-allowlist-filter') return { ...n, mode: 'open' };
        if (n.type === 'chatgate-agent-call') return { ...n, baseUrl: model.url, model: 'fake-model', streamInterval: 100 };
        return n;
      });
    const ids = new Set(flow.map((n) => n.id));
    for (const n of flow) if (Array.isArray(n.wires)) n.wires = (n.wires as string[][]).map((port) => port.filter((w) => ids.has(w)));
    const app = flow.find((n) => n.type === 'chatgate-slack-app')!;
    const mods = nodeModules(['gateway', 'slackApp', 'slackIn', 'slackOut', 'allowlistFilter', 'threadResolver', 'agentCall', 'replyRouter']).map((mod) => (RED: AnyRED) => {
      const _ = RED._;
      RED._ = (key: string, params?: Record<string, string>) => (key.startsWith('slack-') ? translate(key, params) : _(key, params));
      return mod(RED);
    });
    await helper.load(mods, flow as Parameters<typeof helper.load>[1], { [app.id]: { token: BOT_TOKEN, appToken: APP_TOKEN, signingSecret: SIGNING_SECRET } });
    return app.id;
  }

  const bot = (channel: string) => slack.channel(channel).filter((m) => m.fromBot);

  it('slack-agent-socket-mode: a DM and a channel mention are answered by the agent, streamed, in the right place', async () => {
    const appId = await run('slack-agent-socket-mode.json');
    await until(() => (helper.getNode(appId) as AnyRED)?.connection?.status.key === 'socket', 8000, 'connected');
    slack.deliver(slack.make.dm('hello agent'));
    await until(() => bot(slack.fixtures.dm).some((m) => m.visibleText === 'reply to "hello agent" (user turns: 1)'), 10000, 'the DM answer');

    const [message, mention] = slack.make.mention('and in the channel?');
    slack.deliver([message, mention]);
    await until(() => bot(slack.fixtures.channel).some((m) => m.text === 'reply to "and in the channel?" (user turns: 1)'), 10000, 'the channel answer');
    const answer = bot(slack.fixtures.channel)[0];
    assert.equal(answer.thread_ts, message.ts, 'answered in the thread of the mention');
    assert.equal(answer.streaming, 'completed', 'streamed natively in the thread');
    assert.equal(model.requests.length, 2, 'the twins asked the agent once');

    // A follow-up in the thread needs no mention and continues the same conversation.
    slack.deliver(slack.make.threadReply(String(message.ts), 'a follow-up'));
    await until(() => bot(slack.fixtures.channel).some((m) => m.text === 'reply to "a follow-up" (user turns: 2)'), 10000, 'the follow-up answer');
    assert.deepEqual(slack.mrkdwnErrors, []);
  });

  it('slack-agent-events-api: the same bot over signed HTTP', async () => {
    const appId = await run('slack-agent-events-api.json');
    await until(() => (helper.getNode(appId) as AnyRED)?.connection?.status.key === 'listening', 8000, 'listening');
    const res = await slack.postEvent(`${helper.url()}/chatgate/slack/events`, slack.make.dm('over http'));
    assert.equal(res.status, 200);
    await until(() => bot(slack.fixtures.dm).some((m) => m.visibleText === 'reply to "over http" (user turns: 1)'), 10000, 'the answer');
    assert.equal(slack.stats.openSockets, 0);
  });
});
