/**
 * The bounds of docs/limits.md at the edge, in the real runtime: what does not fit is refused with
 * an error a Catch node sees, or reported in the log — never dropped silently. (The pure ones are
 * in test/core/limits.test.ts.)
 */
import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import request from 'supertest';
import { DEFAULT_MAX_PENDING_PER_CHAT } from '../../nodes/core/delivery/chat-queue';
import { DEFAULT_LIMITS } from '../../nodes/webchat/hub';
import { captured, catalogTranslator, getNode, helper, nodeModules, setRedPatch, unload, useUserDir, type AnyRED } from '../helpers/red';
import { until } from '../helpers/telegram';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const catchNode = require(path.join(path.dirname(require.resolve('@node-red/nodes/package.json')), 'core/common/25-catch.js'));

const catcher = [
  { id: 'catcher', type: 'catch', z: 'f1', scope: null, uncaught: false, wires: [['caught']] },
  { id: 'caught', type: 'helper', z: 'f1' },
];

function caught(): string[] {
  const seen: string[] = [];
  getNode('caught').on('input', (msg: { error: { message: string } }) => seen.push(msg.error.message));
  return seen;
}

function warnings(id: string): string[] {
  const seen: string[] = [];
  getNode(id).on('call:warn', (call: { args: unknown[] }) => seen.push(String(call.args[0])));
  return seen;
}

const webchatReply = (userId: string, text: string) => ({
  payload: text,
  chat: { replyTo: { platform: 'webchat', channelId: 'in', chatId: userId, userId } },
});

describe('limits at the edge of the nodes', function () {
  this.timeout(30_000);

  before(async () => {
    await helper.startServer();
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    (helper as any)._app.use((req: any, res: any, next: any) => (captured.RED ? captured.RED.httpNode(req, res, next) : next()));
  });
  after(async () => {
    await helper.stopServer();
  });
  // The English an operator reads, not the helper's bare keys.
  const webchat = catalogTranslator('webchat', '');
  const webhook = catalogTranslator('webhook', '');
  beforeEach(() => {
    useUserDir();
    setRedPatch((RED: AnyRED) => {
      RED._ = (key: string, params?: Record<string, string>) => (key.startsWith('webchat') ? webchat(key, params) : webhook(key, params));
    });
  });
  afterEach(async () => {
    setRedPatch(undefined);
    await unload();
  });

  describe('web chat: replies for visitors who are offline', () => {
    const load = () =>
      helper.load(
        [...nodeModules(['gateway', 'webchatIn', 'webchatOut']), catchNode],
        [
          { id: 'f1', type: 'tab' },
          { id: 'gw', type: 'chatgate-gateway', name: 'limits gateway' },
          { id: 'in', z: 'f1', type: 'chatgate-webchat-in', gateway: 'gw', path: '/limits/chat', wires: [[]] },
          { id: 'out', z: 'f1', type: 'chatgate-webchat-out', gateway: 'gw' },
          ...catcher,
        ] as never,
      );

    it(`a reply for one offline visitor more than ${DEFAULT_LIMITS.maxQueuedUsers} is refused with done(err), which a Catch node sees`, async () => {
      await load();
      const errors = caught();
      for (let i = 0; i <= DEFAULT_LIMITS.maxQueuedUsers; i++) getNode('out').receive(webchatReply(`v${i}`, `hello ${i}`));
      await until(() => errors.length === 1, 10000, 'the refused reply at the Catch node');
      assert.match(errors[0], /dropped reply to webchat:v5000: too many offline users waiting/);
    });

    it(`the oldest of ${DEFAULT_LIMITS.maxQueued} waiting replies that gives way to a newer one is said in the log`, async () => {
      await load();
      const said = warnings('in');
      for (let i = 0; i < DEFAULT_LIMITS.maxQueued + 2; i++) getNode('out').receive(webchatReply('alice', `reply ${i}`));
      await until(() => said.length === 2, 5000, 'two warnings');
      assert.match(said[0], /webchat:alice is offline with 50 replies waiting: the oldest 1 was dropped/);
    });
  });

  describe('webhook: callbacks waiting for one chat', () => {
    let stuck: http.Server;
    let url: string;
    beforeEach(async () => {
      // A receiver that takes the request and never answers (until the test ends).
      stuck = http.createServer(() => undefined);
      await new Promise<void>((r) => stuck.listen(0, '127.0.0.1', () => r()));
      url = `http://127.0.0.1:${(stuck.address() as AddressInfo).port}/cb`;
    });
    afterEach(async () => {
      stuck.closeAllConnections();
      await new Promise<void>((r) => stuck.close(() => r()));
    });

    it(`past one running and ${DEFAULT_MAX_PENDING_PER_CHAT} waiting, a reply is refused with done(err) naming the chat`, async () => {
      await helper.load(
        [...nodeModules(['gateway', 'webhookIn', 'webhookOut']), catchNode],
        [
          { id: 'f1', type: 'tab' },
          { id: 'gw', type: 'chatgate-gateway', name: 'limits gateway' },
          { id: 'in', z: 'f1', type: 'chatgate-webhook-in', gateway: 'gw', path: '/limits/hook', mode: 'async', callbackUrl: url, auth: 'none', wires: [['h']] },
          { id: 'h', z: 'f1', type: 'helper' },
          { id: 'out', z: 'f1', type: 'chatgate-webhook-out', gateway: 'gw' },
          ...catcher,
        ] as never,
      );
      const errors = caught();
      const arrived: Array<Record<string, unknown>> = [];
      getNode('h').on('input', (m: Record<string, unknown>) => arrived.push(m));
      await request(captured.RED.httpNode).post('/limits/hook').send({ userId: 'u1', chatId: 'room', text: 'hi' }).expect(202);
      await until(() => arrived.length === 1, 3000, 'the message in the flow');
      const extra = 3;
      for (let i = 0; i < 1 + DEFAULT_MAX_PENDING_PER_CHAT + extra; i++) getNode('out').receive({ ...arrived[0], payload: `reply ${i}` });
      await until(() => errors.length === extra, 5000, `${extra} refusals at the Catch node (got ${errors.length})`);
      for (const e of errors) assert.match(e, /chat queue full: 100 sends already waiting for chat room/);
    });
  });
});
