import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Chat, ThreadInfo } from '../../nodes/core/envelope';
import type { MemoryTurn } from '../../nodes/core/memory';
import { AgentError, type AgentErrorKind, type AgentRequest, type ChatMessage } from '../../nodes/core/agent/types';
import { verifySignature } from '../../nodes/core/signature';
import {
  HttpAgentProvider,
  OpenAIProvider,
  createProvider,
  type HttpAgentConfig,
  type OpenAIConfig,
  type ProviderCredentials,
} from '../../nodes/agent-call/providers';
import { hostOf, parseRetryAfter, redact } from '../../nodes/agent-call/providers/http-provider';
import { PLACEHOLDER_API_KEY, resolveApiKey } from '../../nodes/agent-call/providers/openai-provider';
import { startOpenAIServer, type FakeOpenAIServer } from '../emulators/openai-server';
import { startHttpAgentServer, type FakeHttpAgent } from '../emulators/http-agent-server';

const API_KEY = 'sk-test-0123456789abcdef';
const TOKEN = 'agent-token-0123456789';
const SECRET = 'hmac-secret-0123456789';
const SECRETS = [API_KEY, TOKEN, SECRET];

const chat: Chat = {
  platform: 'webchat',
  channelId: 'web',
  chatId: 'c1',
  chatJid: 'webchat:web:c1',
  chatType: 'direct',
  userId: 'u1',
  userJid: 'webchat:web:u1',
  isBot: false,
  messageId: 'm1',
  mentioned: false,
  attachments: [],
  receivedAt: '2025-01-01T00:00:00.000Z',
  replyTo: { platform: 'webchat', channelId: 'web', chatId: 'c1', userId: 'u1' },
};
const thread: ThreadInfo = { id: 'th_1', key: 'u:webchat:web:u1', strategy: 'per-user', isNew: false, turn: 2 };
const history: MemoryTurn[] = [
  { role: 'user', content: 'earlier question', at: 1 },
  { role: 'assistant', content: 'earlier answer', at: 2 },
];

function request(text = 'hello there', signal: AbortSignal = new AbortController().signal): AgentRequest {
  const messages: ChatMessage[] = [
    { role: 'system', content: 'You are a test.' },
    ...history.map((t) => ({ role: t.role, content: t.content })),
    { role: 'user', content: text },
  ];
  return { messages, text, chat, thread, history, signal };
}

/** Awaits a failure, checks it is an AgentError of `kind`, and that no secret leaked into it. */
async function failure(promise: Promise<unknown>, kind: AgentErrorKind): Promise<AgentError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof AgentError, `expected an AgentError, got ${String(err)}`);
    assert.equal(err.kind, kind, `kind of "${err.message}"`);
    for (const s of SECRETS) assert.ok(!err.message.includes(s), `secret leaked into "${err.message}"`);
    assert.ok(!String(err.stack).includes(API_KEY));
    return err;
  }
  assert.fail(`expected an AgentError of kind ${kind}`);
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('agent providers', function () {
  this.timeout(5000);

  describe('OpenAI-compatible', () => {
    let fake: FakeOpenAIServer;
    const config = (over: Partial<OpenAIConfig> = {}): OpenAIConfig => ({
      baseUrl: fake.url,
      model: 'test-model',
      timeoutMs: 2000,
      maxRetries: 2,
      ...over,
    });
    const provider = (over: Partial<OpenAIConfig> = {}, creds: ProviderCredentials = { apiKey: API_KEY }) =>
      new OpenAIProvider(config(over), creds);

    beforeEach(async () => {
      fake = await startOpenAIServer({ apiKey: API_KEY });
    });
    afterEach(async () => {
      await fake.close();
    });

    it('returns the whole reply and sends model, messages and the key as a bearer header', async () => {
      const result = await provider({ temperature: 0.2, maxTokens: 50 }).complete(request());
      assert.deepEqual(result, { kind: 'reply', text: 'reply to "hello there" (user turns: 2)' });
      assert.equal(fake.requests.length, 1);
      const { body, headers } = fake.requests[0];
      assert.equal(headers.authorization, `Bearer ${API_KEY}`);
      assert.equal(body.model, 'test-model');
      assert.equal(body.stream, false);
      assert.equal(body.temperature, 0.2);
      assert.equal(body.max_tokens, 50);
      assert.deepEqual(
        body.messages?.map((m) => m.role),
        ['system', 'user', 'assistant', 'user'],
      );
    });

    it('streams deltas in order when asked for them, and they join to the whole text', async () => {
      fake.setBehavior({ chunks: 5, chunkDelayMs: 5 });
      const deltas: string[] = [];
      const result = await provider().complete(request('stream me'), (d) => deltas.push(d));
      assert.equal(fake.requests[0].body.stream, true);
      assert.equal(deltas.length, 5);
      assert.equal(deltas.join(''), 'reply to "stream me" (user turns: 2)');
      assert.deepEqual(result, { kind: 'reply', text: deltas.join('') });
    });

    it('sends extra headers, and keeps their values out of errors', async () => {
      fake.setBehavior({ fail: 400 });
      const p = provider({ extraHeaders: { 'HTTP-Referer': 'https://example.org', 'x-extra': 'extra-header-secret' }, maxRetries: 0 });
      const err = await failure(p.complete(request()), 'client');
      assert.equal(fake.requests[0].headers['http-referer'], 'https://example.org');
      assert.equal(err.options.status, 400);
      assert.equal(err.retryable, false);
    });

    it('lets the SDK wait out a 429 with Retry-After, then succeeds', async () => {
      fake.setBehavior({ rateLimit: { retryAfterSeconds: 1 } }, 1);
      const started = Date.now();
      const result = await provider().complete(request());
      assert.equal(result.kind, 'reply');
      assert.equal(fake.requests.length, 2);
      const waited = fake.requests[1].at - fake.requests[0].at;
      assert.ok(waited >= 950, `retried after ${waited} ms`);
      assert.ok(Date.now() - started < 2000);
    });

    it('lets the SDK retry a 500, then succeeds', async () => {
      fake.setBehavior({ fail: 500 }, 1);
      const result = await provider().complete(request());
      assert.equal(result.kind, 'reply');
      assert.equal(fake.requests.length, 2);
    });

    it('maps what is left after the retries: 5xx to server, 429 to rate-limit with its wait', async () => {
      fake.setBehavior({ fail: 503 });
      const server = await failure(provider({ maxRetries: 0 }).complete(request()), 'server');
      assert.equal(server.options.status, 503);
      assert.equal(server.retryable, true);

      fake.setBehavior({ rateLimit: { retryAfterSeconds: 7 } });
      const limited = await failure(provider({ maxRetries: 0 }).complete(request()), 'rate-limit');
      assert.equal(limited.options.retryAfterMs, 7000);
      assert.equal(limited.options.status, 429);
      assert.equal(limited.retryable, true);
    });

    it('reports broken JSON, a reply without choices and a broken stream as malformed', async () => {
      fake.setBehavior({ malformed: true });
      await failure(provider().complete(request()), 'malformed');
      await failure(provider().complete(request(), () => undefined), 'malformed');
      fake.setBehavior({ malformed: 'no-choices' });
      await failure(provider().complete(request()), 'malformed');
      await failure(provider().complete(request(), () => undefined), 'malformed');
      assert.equal(fake.requests.length, 4, 'malformed replies are not retried');
    });

    it('cancels the HTTP request when the signal aborts, before or during the stream', async () => {
      fake.setBehavior({ hang: true }, 1);
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 50);
      await failure(provider().complete(request('x', ac.signal)), 'aborted');
      await fake.waitForAborts(1);

      fake.setBehavior({ chunks: 10, chunkDelayMs: 100 }, 1);
      const ac2 = new AbortController();
      const deltas: string[] = [];
      const err = failure(
        provider().complete(request('a longer message to stream', ac2.signal), (d) => {
          deltas.push(d);
          ac2.abort();
        }),
        'aborted',
      );
      await err;
      assert.equal(deltas.length, 1);
      await fake.waitForAborts(2);
    });

    it('times out a server that never answers, and one whose stream stalls', async () => {
      fake.setBehavior({ hang: true });
      const started = Date.now();
      const err = await failure(provider({ timeoutMs: 200, maxRetries: 0 }).complete(request()), 'timeout');
      assert.ok(Date.now() - started < 1000);
      assert.equal(err.retryable, true);

      fake.setBehavior({ chunks: 3, chunkDelayMs: 600 });
      const deltas: string[] = [];
      await failure(provider({ timeoutMs: 200, maxRetries: 0 }).complete(request(), (d) => deltas.push(d)), 'timeout');
      await fake.waitForAborts(2);
    });

    it('never puts the API key into an error, even when the server echoes it', async () => {
      const wrong = 'sk-wrong-key-9876543210';
      SECRETS.push(wrong);
      try {
        const err = await failure(provider({ maxRetries: 0 }, { apiKey: wrong }).complete(request()), 'client');
        assert.equal(err.options.status, 401);
        assert.match(err.message, /Incorrect API key provided: \*\*\*/);
        assert.equal(fake.requests[0].headers.authorization, `Bearer ${wrong}`);
      } finally {
        SECRETS.pop();
      }
    });

    it('takes the key from a named environment variable when the credential is empty', async () => {
      process.env.CHATGATE_TEST_OPENAI_KEY = API_KEY;
      try {
        const result = await provider({ apiKeyEnv: 'CHATGATE_TEST_OPENAI_KEY' }, {}).complete(request());
        assert.equal(result.kind, 'reply');
        assert.equal(fake.requests[0].headers.authorization, `Bearer ${API_KEY}`);
      } finally {
        delete process.env.CHATGATE_TEST_OPENAI_KEY;
      }
      assert.equal(resolveApiKey(' k1 ', 'X', { X: 'k2' }), 'k1');
      assert.equal(resolveApiKey('', 'X', { X: 'k2' }), 'k2');
      assert.equal(resolveApiKey(undefined, undefined, { OPENAI_API_KEY: 'k3' }), 'k3');
      assert.equal(resolveApiKey(undefined, 'MISSING', {}), PLACEHOLDER_API_KEY);
      assert.equal(resolveApiKey(undefined, 'not a name', { 'not a name': 'k4' }), PLACEHOLDER_API_KEY);
    });

    it('sends a placeholder key to servers that need none (Ollama, the demo)', async () => {
      const open = await startOpenAIServer();
      try {
        const saved = process.env.OPENAI_API_KEY;
        delete process.env.OPENAI_API_KEY;
        try {
          const result = await new OpenAIProvider({ baseUrl: open.url, model: 'llama3', timeoutMs: 1000 }).complete(request());
          assert.equal(result.kind, 'reply');
        } finally {
          if (saved !== undefined) process.env.OPENAI_API_KEY = saved;
        }
        assert.equal(open.requests[0].headers.authorization, `Bearer ${PLACEHOLDER_API_KEY}`);
      } finally {
        await open.close();
      }
    });

    it('reports a refused connection as a connection error, with a label free of secrets', async () => {
      const port = await closedPort();
      const p = provider({ baseUrl: `http://127.0.0.1:${port}/v1`, maxRetries: 0 });
      await failure(p.complete(request()), 'connection');
      assert.equal(p.label, `test-model @ 127.0.0.1:${port}`);
      assert.equal(hostOf('https://user:pass@api.example.org/v1?key=x'), 'api.example.org');
    });
  });

  describe('HTTP agent', () => {
    let agent: FakeHttpAgent;
    const config = (over: Partial<HttpAgentConfig> = {}): HttpAgentConfig => ({
      url: agent.url,
      auth: 'none',
      includeHistory: false,
      async: false,
      timeoutMs: 2000,
      ...over,
    });

    beforeEach(async () => {
      agent = await startHttpAgentServer();
    });
    afterEach(async () => {
      await agent.close();
    });

    it('posts text, thread and chat, and reads a JSON {text} reply', async () => {
      const result = await new HttpAgentProvider(config()).complete(request('hi agent'));
      assert.deepEqual(result, { kind: 'reply', text: 'agent got "hi agent" (history: 0)' });
      const { body, headers } = agent.requests[0];
      assert.equal(headers['content-type'], 'application/json');
      assert.equal(body.text, 'hi agent');
      assert.deepEqual(body.thread, thread);
      assert.deepEqual(body.chat, chat);
      assert.equal('history' in body, false);
      assert.equal('callbackUrl' in body, false);
    });

    it('sends the history when asked, and reads a {reply} reply', async () => {
      agent.setBehavior({ replyField: 'reply' });
      const result = await new HttpAgentProvider(config({ includeHistory: true })).complete(request('again'));
      assert.deepEqual(result, { kind: 'reply', text: 'agent got "again" (history: 2)' });
      assert.deepEqual(agent.requests[0].body.history, history);
    });

    for (const mode of ['sse', 'ndjson'] as const) {
      it(`streams ${mode === 'sse' ? 'server-sent events' : 'NDJSON lines'}: deltas in order, joined to the whole text`, async () => {
        agent.setBehavior({ mode, chunks: 4, chunkDelayMs: 5 });
        const deltas: string[] = [];
        const result = await new HttpAgentProvider(config()).complete(request('stream it'), (d) => deltas.push(d));
        assert.equal(deltas.length, 4);
        assert.deepEqual(result, { kind: 'reply', text: 'agent got "stream it" (history: 0)' });
        assert.equal(deltas.join(''), 'agent got "stream it" (history: 0)');
      });
    }

    it('returns deferred on 202; the agent posts the reply to the callback URL, signed', async () => {
      await agent.close();
      agent = await startHttpAgentServer({ auth: { kind: 'hmac', secret: SECRET }, behavior: { mode: 'async', callbackDelayMs: 10 } });
      const received: Array<{ raw: string; signature: string | string[] | undefined }> = [];
      const route = http.createServer((req, res) => {
        const parts: Buffer[] = [];
        req.on('data', (c: Buffer) => parts.push(c));
        req.on('end', () => {
          received.push({ raw: Buffer.concat(parts).toString('utf8'), signature: req.headers['x-chatgate-signature'] });
          res.end('ok');
        });
      });
      await new Promise<void>((r) => route.listen(0, '127.0.0.1', r));
      try {
        const callbackUrl = `http://127.0.0.1:${(route.address() as AddressInfo).port}/chatgate/agent/cb`;
        const p = new HttpAgentProvider(config({ auth: 'hmac', async: true, callbackUrl }), { secret: SECRET });
        assert.deepEqual(await p.complete(request('later please')), { kind: 'deferred' });
        assert.equal(agent.requests[0].body.callbackUrl, callbackUrl);
        const [cb] = await agent.waitForCallbacks(1);
        assert.equal(cb.status, 200);
        assert.deepEqual(JSON.parse(received[0].raw), { threadId: 'th_1', text: 'agent got "later please" (history: 0)' });
        assert.equal(verifySignature(SECRET, received[0].raw, received[0].signature), true);
      } finally {
        await new Promise<void>((r) => route.close(() => r()));
      }
    });

    it('authenticates with a bearer token the agent verifies', async () => {
      await agent.close();
      agent = await startHttpAgentServer({ auth: { kind: 'bearer', token: TOKEN } });
      const ok = await new HttpAgentProvider(config({ auth: 'bearer' }), { token: TOKEN }).complete(request());
      assert.equal(ok.kind, 'reply');
      assert.equal(agent.requests[0].authorized, true);
      const wrong = 'agent-token-wrong-000';
      SECRETS.push(wrong);
      try {
        const err = await failure(new HttpAgentProvider(config({ auth: 'bearer' }), { token: wrong }).complete(request()), 'client');
        assert.equal(err.options.status, 401);
        assert.equal(err.retryable, false);
      } finally {
        SECRETS.pop();
      }
    });

    it('signs the exact body bytes with HMAC, which the agent verifies', async () => {
      await agent.close();
      agent = await startHttpAgentServer({ auth: { kind: 'hmac', secret: SECRET } });
      const ok = await new HttpAgentProvider(config({ auth: 'hmac' }), { secret: SECRET }).complete(request('ünïcode ✓'));
      assert.deepEqual(ok, { kind: 'reply', text: 'agent got "ünïcode ✓" (history: 0)' });
      assert.equal(agent.requests[0].authorized, true);
      assert.equal(verifySignature(SECRET, agent.requests[0].raw, agent.requests[0].headers['x-chatgate-signature']), true);
      await failure(new HttpAgentProvider(config({ auth: 'hmac' }), { secret: 'another-secret' }).complete(request()), 'client');
      assert.equal(agent.requests[1].authorized, false);
    });

    it('refuses to be built without the secret its auth mode needs', () => {
      assert.throws(() => new HttpAgentProvider(config({ auth: 'bearer' }), {}), /token/);
      assert.throws(() => new HttpAgentProvider(config({ auth: 'hmac' }), { token: TOKEN }), /secret/);
      assert.throws(() => new HttpAgentProvider(config({ url: 'ftp://example.org' })), /http/);
    });

    it('maps 429 (seconds or HTTP date) to rate-limit, 5xx to server and other 4xx to client, without retrying', async () => {
      const p = new HttpAgentProvider(config());
      agent.setBehavior({ rateLimit: { retryAfterSeconds: 2 } }, 1);
      const limited = await failure(p.complete(request()), 'rate-limit');
      assert.equal(limited.options.retryAfterMs, 2000);
      assert.equal(limited.retryable, true);

      agent.setBehavior({ rateLimit: { retryAfterSeconds: 30, httpDate: true } }, 1);
      const dated = await failure(p.complete(request()), 'rate-limit');
      assert.ok(dated.options.retryAfterMs !== undefined && dated.options.retryAfterMs > 28_000 && dated.options.retryAfterMs <= 30_000);

      agent.setBehavior({ fail: 502 }, 1);
      const server = await failure(p.complete(request()), 'server');
      assert.equal(server.options.status, 502);
      assert.match(server.message, /502: \{"error":"failed with 502"\}/);

      agent.setBehavior({ fail: 404 }, 1);
      assert.equal((await failure(p.complete(request()), 'client')).retryable, false);
      assert.equal(agent.requests.length, 4);
    });

    it('reports broken JSON, a reply without text and broken streams as malformed', async () => {
      const p = new HttpAgentProvider(config());
      for (const b of [{ malformed: true }, { malformed: 'no-text' as const }, { mode: 'sse' as const, malformed: true }, { mode: 'ndjson' as const, malformed: true }]) {
        agent.setBehavior(b, 1);
        await failure(p.complete(request(), () => undefined), 'malformed');
      }
    });

    it('cancels the request on abort, and times out a silent agent or a stalled stream', async () => {
      agent.setBehavior({ hang: true }, 1);
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 50);
      await failure(new HttpAgentProvider(config()).complete(request('x', ac.signal)), 'aborted');
      await agent.waitForAborts(1);

      agent.setBehavior({ hang: true }, 1);
      await failure(new HttpAgentProvider(config({ timeoutMs: 150 })).complete(request()), 'timeout');
      await agent.waitForAborts(2);

      // Each piece comes within the timeout: a slow but steady stream is never cut.
      agent.setBehavior({ mode: 'sse', chunks: 4, chunkDelayMs: 80 }, 1);
      const steady = await new HttpAgentProvider(config({ timeoutMs: 150 })).complete(request('steady'), () => undefined);
      assert.equal(steady.kind, 'reply');

      agent.setBehavior({ mode: 'ndjson', chunks: 3, chunkDelayMs: 400 }, 1);
      await failure(new HttpAgentProvider(config({ timeoutMs: 150 })).complete(request(), () => undefined), 'timeout');
      await agent.waitForAborts(3);
    });

    it('reports a refused connection as a retryable connection error', async () => {
      const port = await closedPort();
      const err = await failure(new HttpAgentProvider(config({ url: `http://127.0.0.1:${port}/agent` })).complete(request()), 'connection');
      assert.equal(err.retryable, true);
      assert.match(err.message, /ECONNREFUSED/);
    });

    it('passes an exception from onDelta through as is', async () => {
      agent.setBehavior({ mode: 'sse' });
      const boom = new Error('consumer broke');
      await assert.rejects(
        new HttpAgentProvider(config()).complete(request(), () => {
          throw boom;
        }),
        (err) => err === boom,
      );
    });
  });

  describe('helpers', () => {
    it('createProvider builds the provider its kind names', () => {
      const o = createProvider({ kind: 'openai', baseUrl: 'http://127.0.0.1:1/v1', model: 'm', timeoutMs: 1000 }, { apiKey: API_KEY });
      assert.ok(o instanceof OpenAIProvider);
      assert.ok(!o.label.includes(API_KEY));
      const h = createProvider({ kind: 'http', url: 'http://127.0.0.1:1/agent', auth: 'bearer', includeHistory: false, async: false, timeoutMs: 1000 }, { token: TOKEN });
      assert.ok(h instanceof HttpAgentProvider);
      assert.equal(h.label, 'HTTP agent 127.0.0.1:1');
    });

    it('parses Retry-After in seconds, milliseconds and HTTP dates', () => {
      const now = Date.parse('2025-01-01T00:00:00Z');
      assert.equal(parseRetryAfter(new Headers({ 'retry-after': '3' }), now), 3000);
      assert.equal(parseRetryAfter(new Headers({ 'retry-after': '1.5' }), now), 1500);
      assert.equal(parseRetryAfter(new Headers({ 'retry-after-ms': '250', 'retry-after': '3' }), now), 250);
      assert.equal(parseRetryAfter(new Headers({ 'retry-after': 'Wed, 01 Jan 2025 00:00:10 GMT' }), now), 10_000);
      assert.equal(parseRetryAfter(new Headers({ 'retry-after': 'Tue, 31 Dec 2024 00:00:00 GMT' }), now), 0);
      assert.equal(parseRetryAfter(new Headers({ 'retry-after': 'soon' }), now), undefined);
      assert.equal(parseRetryAfter(new Headers(), now), undefined);
    });

    it('redacts secrets and bearer tokens', () => {
      assert.equal(redact('key sk-abcdef in Authorization: Bearer xyz123', ['sk-abcdef']), 'key *** in Authorization: Bearer ***');
      assert.equal(redact('short ab', ['ab']), 'short ab');
    });
  });
});
