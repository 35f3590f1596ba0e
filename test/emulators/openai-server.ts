/**
 * A fake OpenAI-compatible server (the wire protocol of OpenAI, Ollama, vLLM, llama.cpp, LM Studio):
 * `POST /v1/chat/completions` answered whole or as a server-sent-event stream, and `GET /v1/models`.
 * Tests steer it per server or for the next N requests: slow, failing, rate limited, malformed or
 * hanging; it records every request, the concurrency it saw and the requests the client aborted.
 */
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface ChatCompletionBody {
  model?: string;
  messages?: Array<{ role: string; content: unknown }>;
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
  temperature?: number;
  max_tokens?: number;
  [key: string]: unknown;
}

export interface OpenAIBehavior {
  /** The reply text; default: `reply to "<last user text>" (user turns: N)`. */
  reply?: (body: ChatCompletionBody) => string;
  /** How many SSE pieces a streamed reply is split into (default 3). */
  chunks?: number;
  /** Wait before answering. */
  delayMs?: number;
  /** Wait between SSE chunks. */
  chunkDelayMs?: number;
  /** Answer with this HTTP status and an OpenAI-style error body. */
  fail?: number;
  /** Answer 429 with a Retry-After header. */
  rateLimit?: { retryAfterSeconds: number };
  /** `true` / 'json': broken JSON (or a broken SSE event); 'no-choices': valid JSON with `choices: []`. */
  malformed?: boolean | 'json' | 'no-choices';
  /** Never answer (the client must time out or abort). */
  hang?: boolean;
}

export interface RecordedRequest {
  method: string;
  path: string;
  body: ChatCompletionBody;
  headers: http.IncomingHttpHeaders;
  at: number;
}

export interface OpenAIServerOptions {
  /** When set, requests must carry `Authorization: Bearer <apiKey>` (else 401). */
  apiKey?: string;
  /** Model id reported by /v1/models and used when the request names none. */
  model?: string;
  behavior?: OpenAIBehavior;
}

export interface FakeOpenAIServer {
  /** Base URL ending in /v1, e.g. http://127.0.0.1:34567/v1 */
  readonly url: string;
  readonly requests: RecordedRequest[];
  readonly active: number;
  readonly maxConcurrent: number;
  /** Requests whose client went away before the response ended. */
  readonly aborted: number;
  /** Without `times`: the server's behaviour from now on. With `times`: only the next N requests. */
  setBehavior(behavior: OpenAIBehavior, times?: number): void;
  /** Resolves once `aborted` reaches `count` (or rejects after `timeoutMs`). */
  waitForAborts(count: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export function lastUserText(body: ChatCompletionBody): string {
  const users = (body.messages ?? []).filter((m) => m.role === 'user');
  const last = users[users.length - 1];
  return last ? String(last.content) : '';
}

export function defaultReply(body: ChatCompletionBody): string {
  const users = (body.messages ?? []).filter((m) => m.role === 'user').length;
  return `reply to "${lastUserText(body)}" (user turns: ${users})`;
}

/** Splits `text` into `n` pieces (fewer when the text is shorter), none empty, joined = text. */
export function splitText(text: string, n: number): string[] {
  const count = Math.max(1, Math.min(n, text.length));
  const size = Math.ceil(text.length / count);
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out.length ? out : [''];
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function openAIError(res: http.ServerResponse, status: number, message: string, type: string, code: string | null, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify({ error: { message, type, param: null, code } }));
}

export async function startOpenAIServer(opts: OpenAIServerOptions = {}): Promise<FakeOpenAIServer> {
  const model = opts.model ?? 'fake-model';
  let behavior: OpenAIBehavior = { ...opts.behavior };
  const once: OpenAIBehavior[] = [];
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  let active = 0;
  let maxConcurrent = 0;
  let aborted = 0;
  let closing = false;
  let seq = 0;
  const abortWaiters: Array<() => void> = [];

  const server = http.createServer((req, res) => {
    active++;
    maxConcurrent = Math.max(maxConcurrent, active);
    let counted = true;
    res.on('close', () => {
      if (!counted) return;
      counted = false;
      active--;
      if (!res.writableFinished && !closing) {
        aborted++;
        abortWaiters.splice(0).forEach((w) => w());
      }
    });
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void handle(req, res, Buffer.concat(chunks).toString('utf8')).catch(() => res.destroy());
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse, raw: string): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    let body: ChatCompletionBody = {};
    try {
      body = raw ? (JSON.parse(raw) as ChatCompletionBody) : {};
    } catch {
      requests.push({ method: req.method ?? '', path, body, headers: req.headers, at: Date.now() });
      return openAIError(res, 400, 'We could not parse the JSON body of your request.', 'invalid_request_error', null);
    }
    requests.push({ method: req.method ?? '', path, body, headers: req.headers, at: Date.now() });

    if (opts.apiKey !== undefined) {
      const auth = req.headers.authorization ?? '';
      const given = auth.replace(/^Bearer\s+/i, '');
      // Echoes the key it got, as a careless server might: the client must keep it out of its errors.
      if (given !== opts.apiKey) {
        return openAIError(res, 401, `Incorrect API key provided: ${given}.`, 'invalid_request_error', 'invalid_api_key');
      }
    }

    if (req.method === 'GET' && path === '/v1/models') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ object: 'list', data: [{ id: model, object: 'model', created: 1700000000, owned_by: 'chatgate-test' }] }));
      return;
    }
    if (req.method !== 'POST' || path !== '/v1/chat/completions') {
      return openAIError(res, 404, `Unknown request URL: ${req.method} ${path}.`, 'invalid_request_error', 'unknown_url');
    }

    const b: OpenAIBehavior = once.length ? (once.shift() as OpenAIBehavior) : behavior;
    if (b.hang) return; // the socket stays open until the client gives up or close() destroys it
    if (b.delayMs) await sleep(b.delayMs);
    if (res.destroyed) return;
    if (b.rateLimit) {
      return openAIError(res, 429, 'Rate limit reached for requests.', 'requests', 'rate_limit_exceeded', {
        'retry-after': String(b.rateLimit.retryAfterSeconds),
      });
    }
    if (b.fail) {
      return openAIError(res, b.fail, 'The server had an error while processing your request.', 'server_error', null);
    }

    const id = `chatcmpl-fake${++seq}`;
    const created = Math.floor(Date.now() / 1000);
    const usedModel = typeof body.model === 'string' ? body.model : model;
    const text = (b.reply ?? defaultReply)(body);
    const promptTokens = (body.messages ?? []).reduce((n, m) => n + String(m.content).split(/\s+/).length, 0);
    const usage = { prompt_tokens: promptTokens, completion_tokens: text.split(/\s+/).length, total_tokens: 0 };
    usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;

    if (!body.stream) {
      res.writeHead(200, { 'content-type': 'application/json' });
      if (b.malformed === 'no-choices') {
        res.end(JSON.stringify({ id, object: 'chat.completion', created, model: usedModel, choices: [], usage }));
      } else if (b.malformed) {
        res.end(`{"id":"${id}","object":"chat.completion","choices":[{"index":0,"message":{"role":"assist`);
      } else {
        res.end(
          JSON.stringify({
            id,
            object: 'chat.completion',
            created,
            model: usedModel,
            choices: [{ index: 0, message: { role: 'assistant', content: text, refusal: null }, logprobs: null, finish_reason: 'stop' }],
            usage,
          }),
        );
      }
      return;
    }

    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    const chunk = (delta: Record<string, unknown>, finish: string | null, extra: Record<string, unknown> = {}) =>
      `data: ${JSON.stringify({
        id,
        object: 'chat.completion.chunk',
        created,
        model: usedModel,
        choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
        ...extra,
      })}\n\n`;
    if (b.malformed === 'no-choices') {
      res.write(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model: usedModel, choices: [] })}\n\n`);
      res.end('data: [DONE]\n\n');
      return;
    }
    res.write(chunk({ role: 'assistant', content: '' }, null));
    if (b.malformed) {
      res.end('data: {"id":"broken","choices":[{"delta":{"content":"x"\n\ndata: [DONE]\n\n');
      return;
    }
    for (const piece of splitText(text, b.chunks ?? 3)) {
      if (b.chunkDelayMs) await sleep(b.chunkDelayMs);
      if (res.destroyed) return;
      res.write(chunk({ content: piece }, null));
    }
    res.write(chunk({}, 'stop'));
    if (body.stream_options?.include_usage) {
      res.write(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model: usedModel, choices: [], usage })}\n\n`);
    }
    res.end('data: [DONE]\n\n');
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    get active() {
      return active;
    },
    get maxConcurrent() {
      return maxConcurrent;
    },
    get aborted() {
      return aborted;
    },
    setBehavior(b: OpenAIBehavior, times?: number) {
      if (times === undefined) behavior = { ...b };
      else for (let i = 0; i < times; i++) once.push({ ...b });
    },
    waitForAborts(count: number, timeoutMs = 2000) {
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`expected ${count} aborted requests, saw ${aborted}`)), timeoutMs);
        const check = () => {
          if (aborted >= count) {
            clearTimeout(timer);
            resolve();
          } else abortWaiters.push(check);
        };
        check();
      });
    },
    close() {
      closing = true;
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
