/**
 * Per-chat fairness through the real pipeline: webhook in -> allowlist filter -> thread resolver ->
 * agent call (4 turns at once, a slow fake model) -> reply router -> webhook out -> the caller's
 * callback receiver. One chat floods (two thousand messages, as fast as HTTP takes them), then
 * another chat sends one message. Whatever the thread strategy — one thread for the flooding chat
 * (per-conversation), a thread per member of a busy group (per-user), a thread per message
 * (per-message) — the quiet chat's message is served within a few turns of its arrival and long
 * before the flood drains. Asserted on the order the model was asked in, never on wall time.
 */
import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { lastUserText, startOpenAIServer, type FakeOpenAIServer } from '../emulators/openai-server';
import { captured, helper, nodeModules, unload, useUserDir } from '../helpers/red';
import { until } from '../helpers/telegram';

const FLOOD = 2000;
const CONCURRENCY = 4;

async function receiver(): Promise<{ url: string; texts: string[]; close(): Promise<void> }> {
  const texts: string[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        texts.push(String((JSON.parse(Buffer.concat(chunks).toString('utf8')) as { text?: unknown }).text));
      } catch {
        // not ours to judge
      }
      res.writeHead(200).end();
    });
  });
  server.keepAliveTimeout = 100;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/replies`,
    texts,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

describe('per-chat fairness: a flood from one chat does not starve the others', function () {
  this.timeout(60_000);
  let model: FakeOpenAIServer;
  let callbacks: Awaited<ReturnType<typeof receiver>>;

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
    // Slow enough that the flood is still waiting when the quiet chat writes.
    model = await startOpenAIServer({ behavior: { delayMs: 25, reply: (body) => `answer to ${lastUserText(body)}` } });
    callbacks = await receiver();
  });
  afterEach(async () => {
    await unload();
    await model.close();
    await callbacks.close();
  });

  const post = (body: object) =>
    fetch(`${helper.url()}/fair/in`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then((r) => r.status);

  for (const [strategy, member] of [
    ['per-conversation', () => 'f-user'],
    ['per-user', (i: number) => `f-user-${i % 200}`],
    ['per-message', () => 'f-user'],
  ] as const) {
    it(`${strategy}: the quiet chat is answered within a few turns of its message, before the flood drains`, async () => {
      await helper.load(
        nodeModules(['gateway', 'webhookIn', 'webhookOut', 'allowlistFilter', 'threadResolver', 'agentCall', 'replyRouter']),
        [
          { id: 'f1', type: 'tab' },
          { id: 'gw', type: 'chatgate-gateway', name: 'fair', strategy, store: 'embedded' },
          { id: 'in', z: 'f1', type: 'chatgate-webhook-in', gateway: 'gw', path: '/fair/in', mode: 'async', callbackUrl: callbacks.url, auth: 'none', wires: [['filter']] },
          { id: 'filter', z: 'f1', type: 'chatgate-allowlist-filter', gateway: 'gw', mode: 'open', matchOn: 'either', list: 'default', entries: [], refused: 'output', wires: [['resolver'], []] },
          // The probe sees each message as the agent call gets it: the quiet one's arrival is counted from there.
          { id: 'resolver', z: 'f1', type: 'chatgate-thread-resolver', gateway: 'gw', strategy, sessionMinutes: '', passReset: false, wires: [['agent', 'probe'], ['router']] },
          { id: 'probe', z: 'f1', type: 'helper' },
          {
            id: 'agent', z: 'f1', type: 'chatgate-agent-call', gateway: 'gw', provider: 'openai', baseUrl: model.url, model: 'fake-model', stream: false, typing: false,
            memoryTurns: 0, concurrency: CONCURRENCY, queueMode: 'followup', maxQueue: 10, retries: 0, timeout: 30, wires: [['router'], []],
          },
          { id: 'router', z: 'f1', type: 'chatgate-reply-router', gateway: 'gw', wires: [[], [], [], [], ['out'], [], []] },
          { id: 'out', z: 'f1', type: 'chatgate-webhook-out', gateway: 'gw' },
        ] as never,
      );

      // The flood: one group chat, as fast as the webhook takes it (a hundred requests at a time).
      for (let i = 0; i < FLOOD; i += 100) {
        const statuses = await Promise.all(Array.from({ length: 100 }, (_, k) => post({ chatId: 'flood', userId: member(i + k), text: `flood ${i + k}`, messageId: `f${i + k}` })));
        assert.ok(statuses.every((s) => s === 202), `flood accepted: ${statuses.join(',')}`);
      }
      let askedBefore = -1;
      helper.getNode('probe').on('input', (msg: { payload?: unknown }) => {
        if (msg.payload === 'calm question') askedBefore = model.requests.length;
      });
      assert.equal(await post({ chatId: 'calm', userId: 'calm-user', text: 'calm question', messageId: 'c1' }), 202);
      await until(() => callbacks.texts.includes('answer to calm question'), 30000, 'the quiet chat answered');

      // Order of service: the quiet chat's turn was among the next few to start after it reached the agent call.
      const order = model.requests.map((r) => lastUserText(r.body));
      const servedAt = order.indexOf('calm question');
      assert.ok(askedBefore >= 0 && servedAt >= askedBefore, 'asked after it reached the agent call');
      assert.ok(servedAt - askedBefore <= CONCURRENCY + 1, `the quiet chat waited ${servedAt - askedBefore} turns of the flood (strategy ${strategy})`);
      // And the flood was far from drained (where it was all taken: per-conversation keeps ten
      // waiting in the one thread and refuses the rest to the error output).
      const floodAsked = order.slice(0, servedAt).filter((t) => t.startsWith('flood')).length;
      if (strategy !== 'per-conversation') assert.ok(FLOOD - floodAsked > FLOOD / 2, `flood messages still waiting: ${FLOOD - floodAsked}`);
    });
  }
});
