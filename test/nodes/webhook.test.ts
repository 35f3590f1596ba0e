/**
 * The custom webhook channel end to end: HTTP requests into chatgate-webhook-in, replies through
 * chatgate-webhook-out, and what the caller sees on the response or its callback server.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import express from 'express';
import request from 'supertest';
import { parseWebhookBody, webhookChat } from '../../nodes/core/webhook-body';
import { captureRawBodies, RAW_BODY, type CapturedRequest } from '../../nodes/common/raw-capture';
import { captured, collect, getNode, helper, nextMessage, nodeModules, sleep, unload, useUserDir, type AnyRED } from '../helpers/red';

// The helper's RED._ returns bare keys; translate with the built catalogs so the tests read the
// English an operator sees.
const LOCALES = path.resolve(__dirname, '../../dist/nodes/webhook/locales/en-US');
let catalog: Record<string, unknown> | undefined;
function translate(key: string, params: Record<string, string> = {}): string {
  catalog ??= Object.assign(
    {},
    ...['webhook-in.json', 'webhook-out.json'].map((f) => JSON.parse(fs.readFileSync(path.join(LOCALES, f), 'utf8'))),
  ) as Record<string, unknown>;
  const found = key.split('.').reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), catalog);
  if (typeof found !== 'string') return key;
  return found.replace(/__(\w+)__/g, (_m, p: string) => String(params[p] ?? ''));
}

type FlowNode = { id: string; type: string; [key: string]: unknown };

async function loadFlow(flow: FlowNode[], credentials: object = {}): Promise<void> {
  const mods = nodeModules(['gateway', 'webhookIn', 'webhookOut']).map((mod) => (RED: AnyRED) => {
    RED._ = translate;
    return mod(RED);
  });
  await helper.load(mods, flow, credentials);
}

const app = () => captured.RED.httpNode;

function webhookFlow(inOver: Record<string, unknown> = {}, outOver: Record<string, unknown> = {}): FlowNode[] {
  return [
    { id: 'gw', type: 'chatgate-gateway', name: 'test gateway' },
    { id: 'in', type: 'chatgate-webhook-in', gateway: 'gw', path: '/hook', mode: 'sync', timeout: 5, auth: 'none', wires: [['h']], ...inOver },
    { id: 'h', type: 'helper' },
    { id: 'out', type: 'chatgate-webhook-out', gateway: 'gw', ...outOver },
  ];
}

/** A local stand-in for the operator's callback receiver. */
interface CallbackServer {
  url: string;
  received: Array<{ headers: http.IncomingHttpHeaders; raw: string }>;
  /** Status codes to answer, in order; 200 once they run out. */
  answers: number[];
  next(ms?: number): Promise<{ headers: http.IncomingHttpHeaders; raw: string }>;
  close(): Promise<void>;
}

async function callbackServer(): Promise<CallbackServer> {
  const received: CallbackServer['received'] = [];
  const waiters: Array<(r: CallbackServer['received'][number]) => void> = [];
  const answers: number[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const entry = { headers: req.headers, raw: Buffer.concat(chunks).toString('utf8') };
      received.push(entry);
      res.statusCode = answers.shift() ?? 200;
      res.end();
      waiters.shift()?.(entry);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/replies`,
    received,
    answers,
    next: (ms = 1500) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no callback arrived')), ms);
        waiters.push((r) => {
          clearTimeout(timer);
          resolve(r);
        });
      }),
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/** Waits for the next `call:error` on a node and returns its message. */
function nextError(nodeId: string, ms = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no error at ${nodeId}`)), ms);
    getNode(nodeId).once('call:error', (call: { args: unknown[] }) => {
      clearTimeout(timer);
      const e = call.args[0];
      resolve(e instanceof Error ? e.message : String(e));
    });
  });
}

function statusTexts(nodeId: string): string[] {
  const spy = getNode(nodeId).status as { getCalls(): Array<{ thisValue: { id: string }; args: Array<{ text?: string }> }> };
  return spy
    .getCalls()
    .filter((c) => c.thisValue?.id === nodeId)
    .map((c) => c.args[0]?.text ?? '');
}

const sign = (secret: string, raw: string) => `sha256=${createHmac('sha256', secret).update(raw).digest('hex')}`;

describe('webhook body', () => {
  it('names the bad field', () => {
    const r = parseWebhookBody('{"userId":"u1"}');
    assert.equal(r.ok, false);
    assert.match(!r.ok ? r.error : '', /^body\.text: /);
    const long = parseWebhookBody(JSON.stringify({ userId: 'x'.repeat(513), text: 'hi' }));
    assert.match(!long.ok ? long.error : '', /^body\.userId: /);
    const att = parseWebhookBody(JSON.stringify({ userId: 'u', text: 'hi', attachments: [{ url: 'x' }] }));
    assert.match(!att.ok ? att.error : '', /^body\.attachments\.0\.kind: /);
  });

  it('says when the body is not JSON or not an object', () => {
    assert.deepEqual(parseWebhookBody('{nope'), { ok: false, error: 'body is not JSON' });
    assert.equal(parseWebhookBody('[1]').ok, false);
  });

  it('makes a group chat when chatId differs from userId, a direct chat otherwise', () => {
    const group = parseWebhookBody('{"userId":"u1","chatId":"room","text":"hi","messageId":"m1"}');
    assert.ok(group.ok);
    const chat = webhookChat(group.value, 'node1');
    assert.equal(chat.chatType, 'group');
    assert.equal(chat.chatJid, 'webhook:room');
    assert.deepEqual(chat.replyTo, { platform: 'webhook', channelId: 'node1', chatId: 'room', messageId: 'm1', userId: 'u1' });
    const direct = parseWebhookBody('{"userId":"u1","chatId":"u1","text":"hi"}');
    assert.ok(direct.ok);
    assert.equal(webhookChat(direct.value, 'node1').chatType, 'direct');
  });
});

describe('raw body capture', () => {
  it('keeps the bytes a signature covers when a JSON parser on the shared root runs first', async () => {
    // Node-RED's default layout: the admin app (with its JSON parser) and RED.httpNode both at '/'.
    const root = express();
    root.use(express.json());
    const httpNode = express();
    root.use('/', httpNode);
    const stop = captureRawBodies(httpNode, '/hook', 1000, 'n1');
    httpNode.post('/hook', (req, res) => {
      void (req as unknown as CapturedRequest)[RAW_BODY]!.then((raw) => res.json(raw.ok ? { raw: raw.body.toString() } : raw));
    });
    const raw = '{ "userId": "u1",\n  "text": "hi" }';
    const res = await request(root).post('/hook').set('content-type', 'application/json').send(raw);
    assert.deepEqual(res.body, { raw });
    const big = await request(root).post('/hook').set('content-type', 'application/json').send(JSON.stringify({ t: 'x'.repeat(2000) }));
    assert.deepEqual(big.body, { ok: false, reason: 'too-large' });
    stop();
  });
});

describe('webhook in / out', function () {
  before(() => {
    useUserDir();
  });
  afterEach(async () => {
    await unload();
  });

  it('sync: the HTTP response carries the reply text and thread', async () => {
    await loadFlow(webhookFlow());
    const arriving = nextMessage('h');
    const response = request(app())
      .post('/hook')
      .send({ userId: 'u1', text: 'hello', userName: 'Ann', messageId: 'm-1' })
      .then((r) => r);
    const msg = await arriving;
    assert.equal(msg.payload, 'hello');
    assert.equal(msg.chat.platform, 'webhook');
    assert.equal(msg.chat.channelId, 'in');
    assert.equal(msg.chat.chatId, 'u1');
    assert.equal(msg.chat.chatType, 'direct');
    assert.equal(msg.chat.userName, 'Ann');
    assert.equal(msg.chat.messageId, 'm-1');
    const thread = { id: 't-1', key: 'webhook|in|u1', strategy: 'per-conversation', isNew: true, turn: 1 };
    // A streamed part and a typing signal never reach a sync caller; the final part does.
    getNode('out').receive({ ...msg, event: 'typing' });
    getNode('out').receive({ ...msg, payload: 'rep', stream: { id: 's', seq: 0, done: false } });
    getNode('out').receive({ ...msg, payload: 'reply', thread, stream: { id: 's', seq: 1, done: true } });
    const res = await response;
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { text: 'reply', thread, messageId: 'm-1' });
  });

  it('async: answers 202 at once and POSTs each signed reply to the callback URL', async () => {
    const cb = await callbackServer();
    try {
      await loadFlow(webhookFlow({ mode: 'async', callbackUrl: cb.url }), { in: { callbackSecret: 'cb-secret' } });
      const arriving = nextMessage('h');
      const res = await request(app()).post('/hook').send({ userId: 'u1', chatId: 'room-7', text: 'hello' });
      assert.equal(res.status, 202);
      assert.equal(res.body.accepted, true);
      const messageId = res.body.messageId as string;
      assert.ok(messageId);
      const msg = await arriving;
      assert.equal(msg.chat.chatType, 'group');
      assert.equal(msg.chat.messageId, messageId);

      const delivered = cb.next();
      getNode('out').receive({ ...msg, payload: 'the answer', thread: { id: 't-9', key: 'k', strategy: 'per-user', isNew: false, turn: 2 } });
      const got = await delivered;
      assert.equal(got.headers['content-type'], 'application/json');
      assert.equal(got.headers['x-chatgate-signature'], sign('cb-secret', got.raw));
      assert.deepEqual(JSON.parse(got.raw), { messageId, chatId: 'room-7', userId: 'u1', text: 'the answer', thread: { id: 't-9' } });
    } finally {
      await cb.close();
    }
  });

  it('async: retries a 5xx callback, and a 4xx fails at once with a red status', async () => {
    const cb = await callbackServer();
    try {
      await loadFlow(webhookFlow({ mode: 'async', callbackUrl: cb.url }));
      const arriving = nextMessage('h');
      await request(app()).post('/hook').send({ userId: 'u1', text: 'hello' }).expect(202);
      const msg = await arriving;

      cb.answers.push(503);
      const second = cb.next().then(() => cb.next());
      getNode('out').receive({ ...msg, payload: 'one' });
      const got = await second;
      assert.equal(JSON.parse(got.raw).text, 'one');
      assert.equal(cb.received.length, 2);
      assert.equal(got.headers['x-chatgate-signature'], undefined, 'unsigned without a callback secret');

      cb.answers.push(400);
      const failed = nextError('out');
      getNode('out').receive({ ...msg, payload: 'two' });
      assert.match(await failed, /callback answered HTTP 400/);
      assert.equal(cb.received.length, 3, 'a 4xx is not retried');
      assert.match(statusTexts('out').at(-1) ?? '', /^delivery failed: callback answered HTTP 400/);
    } finally {
      await cb.close();
    }
  });

  it('sync: answers 504 when no reply comes within the timeout', async () => {
    await loadFlow(webhookFlow({ timeout: 1 }));
    const seen = collect('h');
    const res = await request(app()).post('/hook').send({ userId: 'u1', text: 'anyone?' });
    assert.equal(res.status, 504);
    assert.equal(res.body.error, 'no reply within 1 s');
    assert.equal(seen.length, 1, 'the message did reach the flow');
    // The reply that comes too late has nowhere to go: no callback URL is set.
    const failed = nextError('out');
    getNode('out').receive({ ...seen[0], payload: 'too late' });
    assert.match(await failed, /came after its HTTP response was sent/);
  });

  it('sync with a callback URL: a reply after the timeout goes to the callback', async () => {
    const cb = await callbackServer();
    try {
      await loadFlow(webhookFlow({ timeout: 0.2, callbackUrl: cb.url }));
      const seen = collect('h');
      const res = await request(app()).post('/hook').send({ userId: 'u1', text: 'slow one', messageId: 'm-late' });
      assert.equal(res.status, 504);
      assert.equal(res.body.error, 'no reply within 0.2 s');
      const delivered = cb.next();
      getNode('out').receive({ ...seen[0], payload: 'sorry I am late' });
      assert.deepEqual(JSON.parse((await delivered).raw), { messageId: 'm-late', chatId: 'u1', userId: 'u1', text: 'sorry I am late' });
    } finally {
      await cb.close();
    }
  });

  describe('refused requests reach nothing', () => {
    it('400 when the body is not JSON', async () => {
      await loadFlow(webhookFlow());
      const seen = collect('h');
      const res = await request(app()).post('/hook').set('content-type', 'application/json').send('{not json');
      assert.equal(res.status, 400);
      assert.deepEqual(res.body, { error: 'body is not JSON' });
      await sleep(50);
      assert.equal(seen.length, 0);
    });

    it('400 naming the field when text is missing', async () => {
      await loadFlow(webhookFlow());
      const seen = collect('h');
      const res = await request(app()).post('/hook').send({ userId: 'u1' });
      assert.equal(res.status, 400);
      assert.match(res.body.error, /^body\.text: /);
      await sleep(50);
      assert.equal(seen.length, 0);
    });

    it('401 on a wrong or missing bearer token, 200 path open with the right one', async () => {
      await loadFlow(webhookFlow({ auth: 'bearer', mode: 'async' }), { in: { token: 'tok-123' } });
      const seen = collect('h');
      const wrong = await request(app()).post('/hook').set('authorization', 'Bearer tok-124').send({ userId: 'u1', text: 'hi' });
      assert.equal(wrong.status, 401);
      assert.equal(wrong.headers['www-authenticate'], 'Bearer');
      await request(app()).post('/hook').send({ userId: 'u1', text: 'hi' }).expect(401);
      await sleep(50);
      assert.equal(seen.length, 0);
      await request(app()).post('/hook').set('authorization', 'Bearer tok-123').send({ userId: 'u1', text: 'hi' }).expect(202);
      await sleep(20);
      assert.equal(seen.length, 1);
    });

    it('401 on a wrong HMAC signature, accepted with the right one', async () => {
      await loadFlow(webhookFlow({ auth: 'hmac', mode: 'async' }), { in: { secret: 'hmac-key' } });
      const seen = collect('h');
      const raw = JSON.stringify({ userId: 'u1', text: 'signed' });
      const post = (sig?: string) => {
        const r = request(app()).post('/hook').set('content-type', 'application/json');
        if (sig) r.set('X-Chatgate-Signature', sig);
        return r.send(raw);
      };
      assert.equal((await post(sign('other-key', raw))).status, 401);
      assert.equal((await post()).status, 401);
      await sleep(50);
      assert.equal(seen.length, 0);
      const ok = await post(sign('hmac-key', raw));
      assert.equal(ok.status, 202);
      await sleep(20);
      assert.equal(seen.length, 1);
      assert.equal(seen[0].payload, 'signed');
    });

    it('a replayed signed request with a messageId is answered once (the signature covers no time; the id stops a replay)', async () => {
      await loadFlow(webhookFlow({ auth: 'hmac', mode: 'async' }), { in: { secret: 'hmac-key' } });
      const seen = collect('h');
      const raw = JSON.stringify({ userId: 'u1', text: 'pay 100', messageId: 'evt-replayed' });
      const post = () => request(app()).post('/hook').set('content-type', 'application/json').set('X-Chatgate-Signature', sign('hmac-key', raw)).send(raw);
      assert.equal((await post()).status, 202);
      for (let i = 0; i < 3; i++) {
        const again = await post();
        assert.equal(again.status, 200);
        assert.deepEqual(again.body, { duplicate: true, messageId: 'evt-replayed' });
      }
      await sleep(50);
      assert.deepEqual(seen.map((m) => m.payload), ['pay 100']);
    });

    it('200 with a good HMAC on a sync webhook: signed over the raw bytes', async () => {
      await loadFlow(webhookFlow({ auth: 'hmac', signatureHeader: 'X-Sig' }), { in: { secret: 'hmac-key' } });
      // Whitespace and key order must not matter: the signature covers the bytes as sent.
      const raw = '{ "text": "hi there",\n  "userId": "u2" }';
      const arriving = nextMessage('h');
      const response = request(app()).post('/hook').set('content-type', 'application/json').set('X-Sig', sign('hmac-key', raw)).send(raw).then((r) => r);
      const msg = await arriving;
      getNode('out').receive({ ...msg, payload: 'hello u2' });
      const res = await response;
      assert.equal(res.status, 200);
      assert.equal(res.body.text, 'hello u2');
    });

    it('401 for every request when bearer auth has no token set', async () => {
      await loadFlow(webhookFlow({ auth: 'bearer' }));
      const seen = collect('h');
      await request(app()).post('/hook').set('authorization', 'Bearer ').send({ userId: 'u1', text: 'hi' }).expect(401);
      await request(app()).post('/hook').set('authorization', 'Bearer undefined').send({ userId: 'u1', text: 'hi' }).expect(401);
      assert.equal(seen.length, 0);
      assert.match(statusTexts('in').at(-1) ?? '', /bearer auth needs a token/);
    });

    it('413 when the body is larger than maxBytes', async () => {
      await loadFlow(webhookFlow({ maxBytes: 100 }));
      const seen = collect('h');
      const res = await request(app()).post('/hook').send({ userId: 'u1', text: 'x'.repeat(200) });
      assert.equal(res.status, 413);
      assert.match(res.body.error, /larger than 100 bytes/);
      await sleep(50);
      assert.equal(seen.length, 0);
    });

    it('503 when no gateway is configured', async () => {
      await loadFlow(webhookFlow({ gateway: '' }));
      const seen = collect('h');
      const res = await request(app()).post('/hook').send({ userId: 'u1', text: 'hi' });
      assert.equal(res.status, 503);
      assert.match(res.body.error, /no gateway/);
      assert.equal(seen.length, 0);
      assert.match(statusTexts('in').at(-1) ?? '', /no gateway config node selected/);
    });
  });

  it('answers a repeated messageId once', async () => {
    await loadFlow(webhookFlow({ mode: 'async' }));
    const seen = collect('h');
    const first = await request(app()).post('/hook').send({ userId: 'u1', text: 'hi', messageId: 'dup-1' });
    assert.equal(first.status, 202);
    const again = await request(app()).post('/hook').send({ userId: 'u1', text: 'hi', messageId: 'dup-1' });
    assert.equal(again.status, 200);
    assert.deepEqual(again.body, { duplicate: true, messageId: 'dup-1' });
    await sleep(50);
    assert.equal(seen.length, 1);
  });

  it('shows listening, registers in the gateway, and refuses a second node on the same path', async () => {
    const flow = [...webhookFlow(), { id: 'in2', type: 'chatgate-webhook-in', gateway: 'gw', path: 'hook/', wires: [['h']] }];
    await loadFlow(flow);
    assert.equal(statusTexts('in').at(-1), 'listening on /hook');
    assert.match(statusTexts('in2').at(-1) ?? '', /POST \/hook is already served by in/);
    const channels = getNode('gw').gateway.state.channels;
    assert.equal(channels.get('in').state, 'connected');
    assert.equal(channels.get('in').direction, 'in');
    assert.equal(channels.get('in').platform, 'webhook');
    assert.equal(channels.get('in2').state, 'error');
  });

  it('removes its route on unload, and answers waiting requests 503', async () => {
    await loadFlow(webhookFlow());
    const httpApp = app();
    const arriving = nextMessage('h');
    const waiting = request(httpApp).post('/hook').send({ userId: 'u1', text: 'hi' }).then((r) => r);
    await arriving;
    await unload();
    const res = await waiting;
    assert.equal(res.status, 503);
    await request(httpApp).post('/hook').send({ userId: 'u1', text: 'hi' }).expect(404);
  });

  it('keeps the token and secrets out of logs, statuses and messages', async () => {
    const cb = await callbackServer();
    const secrets = { token: 'TOKEN-abc-123', secret: 'SECRET-def-456', callbackSecret: 'CBSECRET-ghi-789' };
    try {
      await loadFlow(webhookFlow({ auth: 'bearer', mode: 'async', callbackUrl: cb.url }), { in: secrets });
      const seen = collect('h');
      await request(app()).post('/hook').set('authorization', 'Bearer wrong').send({ userId: 'u1', text: 'hi' }).expect(401);
      await request(app()).post('/hook').set('authorization', `Bearer ${secrets.token}`).send({ userId: 'u1', text: 'hi' }).expect(202);
      await sleep(20);
      cb.answers.push(403);
      const failed = nextError('out');
      getNode('out').receive({ ...seen[0], payload: 'reply' });
      await failed;
      const failedAgain = nextError('out');
      getNode('out').receive({ payload: 'no address' });
      await failedAgain;

      const logs = JSON.stringify(helper.log().args, (_k, v: unknown) => (v instanceof Error ? { message: v.message, stack: v.stack } : v));
      const statuses = JSON.stringify([...statusTexts('in'), ...statusTexts('out')]);
      const emitted = JSON.stringify(seen);
      assert.ok(logs.includes('callback answered HTTP 403'), 'the failure was logged');
      for (const s of Object.values(secrets)) {
        assert.ok(!logs.includes(s), `log lines hold ${s}`);
        assert.ok(!statuses.includes(s), `statuses hold ${s}`);
        assert.ok(!emitted.includes(s), `the message holds ${s}`);
      }
    } finally {
      await cb.close();
    }
  });

  describe('webhook out errors', () => {
    it('fails naming msg.chat when the reply has no address', async () => {
      await loadFlow(webhookFlow());
      const failed = nextError('out');
      getNode('out').receive({ payload: 'hi' });
      const message = await failed;
      assert.match(message, /^invalid reply: msg\.chat: /);
      assert.match(statusTexts('out').at(-1) ?? '', /^invalid message: msg\.chat/);
    });

    it('fails when the webhook in node named by replyTo.channelId is not deployed', async () => {
      await loadFlow(webhookFlow());
      const failed = nextError('out');
      getNode('out').receive({ payload: 'hi', chat: { replyTo: { platform: 'webhook', channelId: 'gone', chatId: 'c', userId: 'u' } } });
      assert.match(await failed, /no webhook in node gone is deployed/);
    });

    it('delivers the gateway admin send API to the callback URL', async () => {
      const cb = await callbackServer();
      try {
        await loadFlow(webhookFlow({ mode: 'async', callbackUrl: cb.url }));
        const send = getNode('gw').gateway.state.channels.findSender('webhook');
        assert.ok(send, 'webhook out registered a sender');
        const delivered = cb.next();
        await send({ payload: 'from the operator', chat: { replyTo: { platform: 'webhook', channelId: 'in', chatId: 'c9', userId: 'c9' } } });
        assert.deepEqual(JSON.parse((await delivered).raw), { chatId: 'c9', userId: 'c9', text: 'from the operator' });
      } finally {
        await cb.close();
      }
    });
  });
});
