/**
 * Every node against servers that are not ours: each call answered with an error body of an
 * unexpected shape (no description, HTML, empty, truncated, null, wrong types, a closed socket, an
 * answer that echoes the credentials). Node-RED must stay up — the suite's root hook fails on any
 * unhandled rejection — and each failure must reach the operator: done(err) seen by a real Catch
 * node, or the node status, as a sentence that names what failed and shows no secret.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { startTelegramServer, type TelegramServer } from '../emulators/telegram-server';
import { BAD_ANSWERS, startHostileServer, type HostileServer } from '../emulators/hostile-server';
import request from 'supertest';
import { captured, getNode, helper, inbound, nodeModules, sleep, unload, useUserDir, type AnyRED, type ModuleName } from '../helpers/red';
import { translate, until, type FlowNode } from '../helpers/telegram';

const TOKEN = '555444333:AAhostile-SECRET-token_abcdefghij';
const API_KEY = 'sk-hostile-SECRET-api-key-0123456789';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const catchNode = require(path.join(path.dirname(require.resolve('@node-red/nodes/package.json')), 'core/common/25-catch.js'));

/** What an operator must never see in a message meant for them. */
function assertClean(text: string, secrets: string[] = [TOKEN, API_KEY]): void {
  assert.ok(text.trim().length > 0, 'an empty error');
  for (const s of secrets) assert.ok(!text.includes(s), `a secret in: ${text}`);
  assert.ok(!/\[object Object\]|: undefined\b|\(undefined: undefined\)/.test(text), `a formatting accident in: ${text}`);
}

async function loadWith(names: ModuleName[], flow: FlowNode[], credentials: Record<string, unknown>): Promise<void> {
  const mods = nodeModules(names).map((mod) => (RED: AnyRED) => {
    RED._ = translate;
    return mod(RED);
  });
  await helper.load([...mods, catchNode], flow as never, credentials as never);
}

/** Errors that reached the Catch node, as the messages it emitted. */
function caught(): Array<{ error: { message: string; source?: { id: string } } }> {
  const seen: Array<{ error: { message: string; source?: { id: string } } }> = [];
  getNode('caught').on('input', (msg: { error: { message: string } }) => seen.push(msg));
  return seen;
}

/** Every input the node finished (done() called), with its error if any. */
function completions(id: string): Array<{ err?: unknown }> {
  const node = getNode(id);
  const seen: Array<{ err?: unknown }> = [];
  const complete = node._complete;
  node._complete = function (this: unknown, msg: unknown, err?: unknown) {
    seen.push(err ? { err } : {});
    return complete.call(this, msg, err);
  };
  return seen;
}

function statusTexts(id: string): string[] {
  const seen: string[] = [];
  getNode(id).on('call:status', (call: { firstArg: { text?: string } }) => seen.push(String(call.firstArg?.text ?? '')));
  return seen;
}

const tab = { id: 'f1', type: 'tab' };
const catcher = [
  { id: 'catcher', type: 'catch', z: 'f1', scope: null, uncaught: false, wires: [['caught']] },
  { id: 'caught', type: 'helper', z: 'f1' },
];

describe('every node against servers that answer with non-standard error bodies', function () {
  this.timeout(60000);
  let tg: TelegramServer;
  let hostile: HostileServer;

  afterEach(async () => {
    await unload();
    await hostile?.close();
    await tg?.close();
  });

  describe('telegram (a Bot API server that spoils every call but getMe and getUpdates)', () => {
    beforeEach(async () => {
      useUserDir();
      tg = await startTelegramServer({ token: TOKEN });
      hostile = await startHostileServer({ target: tg.apiRoot, spoil: (p) => !/\/(getMe|getUpdates|deleteWebhook)$/.test(p) });
    });

    const flow = (): FlowNode[] => [
      tab,
      { id: 'bot', type: 'chatgate-telegram-bot', apiRoot: hostile.url, pollTimeout: 1, callTimeout: 2, retryMin: 0.02, retryMax: 0.1, stallMargin: 0.3, throttle: false },
      { id: 'out', z: 'f1', type: 'chatgate-telegram-out', bot: 'bot', typing: true },
      ...catcher,
    ];
    const reply = (chatId: number, text: string, extra: Record<string, unknown> = {}) => ({
      ...inbound({ platform: 'telegram', channelId: 'bot', chatId: String(chatId), userId: String(chatId) }, text),
      ...extra,
    });

    it('a failed typing signal (every bad answer) shows in the status and never takes Node-RED down', async () => {
      await loadWith(['gateway', 'telegramBot', 'telegramOut'], flow(), { bot: { token: TOKEN } });
      const statuses = statusTexts('out');
      for (let i = 0; i < BAD_ANSWERS.length; i++) getNode('out').receive(reply(7000 + i, '', { event: 'typing' }));
      await until(() => hostile.spoiled.filter((s) => s.path.endsWith('/sendChatAction')).length >= BAD_ANSWERS.length, 10000, 'every typing call');
      await sleep(400);
      const errors = statuses.filter((s) => /failed|refused|reach|unexpected/i.test(s));
      assert.ok(errors.length >= 1, `status: ${statuses.join(' | ')}`);
      for (const s of statuses) assertClean(s);
      assert.ok(statuses.some((s) => /unexpected shape/.test(s)), `the {message} body is named: ${statuses.join(' | ')}`);
    });

    it('each failed reply, photo and streamed part reaches the Catch node as a clean sentence', async () => {
      await loadWith(['gateway', 'telegramBot', 'telegramOut'], flow(), { bot: { token: TOKEN } });
      const errors = caught();
      const n = BAD_ANSWERS.length;
      for (let i = 0; i < n; i++) getNode('out').receive(reply(8000 + i, `reply ${i}`));
      getNode('out').receive(reply(8100, 'a caption', { photo: Buffer.from('89504e47', 'hex') }));
      getNode('out').receive(reply(8200, 'partial', { stream: { id: 's1', seq: 0, done: false } }));
      getNode('out').receive(reply(8200, 'partial and whole', { stream: { id: 's1', seq: 1, done: true } }));
      await until(() => errors.length >= n + 2, 30000, `${n + 2} errors at the Catch node (got ${errors.length})`);
      for (const e of errors) {
        assert.equal(e.error.source?.id, 'out');
        assertClean(e.error.message);
      }
      assert.ok(hostile.spoiled.some((s) => s.path.endsWith('/sendPhoto')), 'the photo call was made');
    });
  });

  describe('telegram bot config node (getMe answered badly)', () => {
    beforeEach(async () => {
      useUserDir();
      tg = await startTelegramServer({ token: TOKEN });
      hostile = await startHostileServer();
    });

    it('says what is wrong in the status and keeps retrying, without a crash', async () => {
      await loadWith(
        ['gateway', 'telegramBot', 'telegramOut'],
        [tab, { id: 'bot', type: 'chatgate-telegram-bot', apiRoot: hostile.url, pollTimeout: 1, callTimeout: 1, retryMin: 0.02, retryMax: 0.05, stallMargin: 0.3, throttle: false }, { id: 'out', z: 'f1', type: 'chatgate-telegram-out', bot: 'bot' }],
        { bot: { token: TOKEN } },
      );
      const statuses = statusTexts('out');
      await until(() => hostile.spoiled.length >= BAD_ANSWERS.length + 2, 15000, 'getMe tried against every bad answer');
      assert.ok(statuses.length > 0);
      for (const s of statuses) assertClean(s);
    });
  });

  describe('webhook out (an async callback URL that answers badly)', () => {
    beforeEach(async () => {
      useUserDir();
      hostile = await startHostileServer();
    });

    it('every reply ends: delivered on a 2xx, else at the Catch node; the callback secret never shows', async () => {
      const secret = 'cb-SECRET-shared-0123456789';
      await loadWith(
        ['gateway', 'webhookIn', 'webhookOut'],
        [
          tab,
          { id: 'gw', type: 'chatgate-gateway' },
          { id: 'in', z: 'f1', type: 'chatgate-webhook-in', gateway: 'gw', path: '/hostile-hook', mode: 'async', callbackUrl: `${hostile.url}/cb`, auth: 'none', wires: [['h']] },
          { id: 'h', z: 'f1', type: 'helper' },
          { id: 'out', z: 'f1', type: 'chatgate-webhook-out', gateway: 'gw' },
          ...catcher,
        ],
        { in: { callbackSecret: secret } },
      );
      const errors = caught();
      const ended = completions('out');
      const inbound: unknown[] = [];
      getNode('h').on('input', (m: unknown) => inbound.push(m));
      const n = BAD_ANSWERS.length;
      for (let i = 0; i < n; i++) await request(captured.RED.httpNode).post('/hostile-hook').send({ userId: `u${i}`, text: `question ${i}` }).expect(202);
      await until(() => inbound.length === n, 5000, 'inbound messages');
      for (const [i, m] of inbound.entries()) getNode('out').receive({ ...(m as object), payload: `reply ${i}` });
      await until(() => ended.length === n, 40000, `${n} replies ended (got ${ended.length})`);
      const failed = ended.filter((e) => e.err);
      assert.ok(failed.length >= 2, `${failed.length} callbacks failed`);
      await until(() => errors.length === failed.length, 2000, 'each failure at the Catch node');
      for (const e of errors) assertClean(e.error.message, [secret]);
    });
  });

  for (const provider of ['openai', 'http'] as const) {
    describe(`agent call, ${provider} provider (an agent server that answers badly)`, () => {
      beforeEach(async () => {
        useUserDir();
        hostile = await startHostileServer();
      });

      it('answers every message with its error output and done(err), and never shows the key', async () => {
        await loadWith(
          ['gateway', 'agentCall'],
          [
            tab,
            { id: 'gw', type: 'chatgate-gateway' },
            {
              id: 'agent', z: 'f1', type: 'chatgate-agent-call', gateway: 'gw', provider, baseUrl: provider === 'openai' ? `${hostile.url}/v1` : `${hostile.url}/agent`,
              url: `${hostile.url}/agent`, model: 'm', stream: false, typing: false, retries: 0, timeout: 5, memoryTurns: 0, wires: [['ok'], ['failed']],
            },
            { id: 'ok', z: 'f1', type: 'helper' },
            { id: 'failed', z: 'f1', type: 'helper' },
            ...catcher,
          ],
          { agent: provider === 'openai' ? { apiKey: API_KEY } : { token: API_KEY } },
        );
        const errors = caught();
        const n = BAD_ANSWERS.length;
        for (let i = 0; i < n; i++) {
          const msg = inbound({ platform: 'webhook', channelId: 'in', chatId: `c${i}`, userId: `u${i}` }, `question ${i}`);
          getNode('agent').receive({ ...msg, thread: { id: `t${i}`, key: `k${i}`, strategy: 'per-user', isNew: true, turn: 1 } });
        }
        await until(() => errors.length >= n, 40000, `${n} agent errors (got ${errors.length})`);
        for (const e of errors) assertClean(e.error.message);
      });
    });
  }
});
