/**
 * A fake external "HTTP agent" (a Codebolt or Botpress style agent process): it receives the turn as
 * POSTed JSON, checks a bearer token or an HMAC signature over the raw body when configured, and
 * answers whole (JSON), streamed (SSE or NDJSON) or later (202, then a signed POST of
 * `{threadId, text}` to the request's callbackUrl). Tests steer it like the fake OpenAI server.
 */
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { signBody, verifyBearer, verifySignature } from '../../nodes/core/signature';
import { splitText } from './openai-server';

export interface AgentRequestBody {
  text?: string;
  thread?: { id?: string; [key: string]: unknown };
  chat?: Record<string, unknown>;
  history?: Array<{ role: string; content: string }>;
  callbackUrl?: string;
  [key: string]: unknown;
}

export type AgentAuth = { kind: 'none' } | { kind: 'bearer'; token: string } | { kind: 'hmac'; secret: string };

export interface HttpAgentBehavior {
  /** How the reply is sent (default 'json'). 'async' answers 202 and calls back later. */
  mode?: 'json' | 'sse' | 'ndjson' | 'async';
  /** The reply text; default: `agent got "<text>" (history: N)`. */
  reply?: (body: AgentRequestBody) => string;
  /** JSON mode: the field holding the reply (default 'text'). */
  replyField?: 'text' | 'reply';
  /** Streamed modes: how many pieces (default 3) and the wait between them. */
  chunks?: number;
  chunkDelayMs?: number;
  /** Wait before answering. */
  delayMs?: number;
  /** Async mode: wait before calling back (default 20 ms). */
  callbackDelayMs?: number;
  /** Answer with this HTTP status and `{error}`. */
  fail?: number;
  /** Answer 429 with Retry-After in seconds, or as an HTTP date when `httpDate` is set. */
  rateLimit?: { retryAfterSeconds: number; httpDate?: boolean };
  /** 200 with broken JSON / a broken stream event / JSON without any text. */
  malformed?: boolean | 'no-text';
  /** Never answer. */
  hang?: boolean;
}

export interface RecordedAgentRequest {
  path: string;
  raw: string;
  body: AgentRequestBody;
  headers: http.IncomingHttpHeaders;
  authorized: boolean;
  at: number;
}

export interface RecordedCallback {
  url: string;
  body: { threadId: string; text: string };
  status?: number;
  error?: string;
}

export interface HttpAgentServerOptions {
  auth?: AgentAuth;
  /** Path the agent listens on (default '/agent'). */
  path?: string;
  behavior?: HttpAgentBehavior;
}

export interface FakeHttpAgent {
  /** Full URL of the agent endpoint, e.g. http://127.0.0.1:34567/agent */
  readonly url: string;
  readonly requests: RecordedAgentRequest[];
  readonly callbacks: RecordedCallback[];
  readonly active: number;
  readonly maxConcurrent: number;
  readonly aborted: number;
  setBehavior(behavior: HttpAgentBehavior, times?: number): void;
  waitForAborts(count: number, timeoutMs?: number): Promise<void>;
  /** Resolves once `count` callbacks were answered (or failed). */
  waitForCallbacks(count: number, timeoutMs?: number): Promise<RecordedCallback[]>;
  close(): Promise<void>;
}

export function defaultAgentReply(body: AgentRequestBody): string {
  return `agent got "${body.text ?? ''}" (history: ${Array.isArray(body.history) ? body.history.length : 0})`;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function authHeaders(auth: AgentAuth, raw: string): Record<string, string> {
  if (auth.kind === 'bearer') return { authorization: `Bearer ${auth.token}` };
  if (auth.kind === 'hmac') return { 'x-chatgate-signature': signBody(auth.secret, raw) };
  return {};
}

export async function startHttpAgentServer(opts: HttpAgentServerOptions = {}): Promise<FakeHttpAgent> {
  const auth: AgentAuth = opts.auth ?? { kind: 'none' };
  const agentPath = opts.path ?? '/agent';
  let behavior: HttpAgentBehavior = { ...opts.behavior };
  const once: HttpAgentBehavior[] = [];
  const requests: RecordedAgentRequest[] = [];
  const callbacks: RecordedCallback[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const waiters: Array<() => void> = [];
  const notify = () => waiters.splice(0).forEach((w) => w());
  let active = 0;
  let maxConcurrent = 0;
  let aborted = 0;
  let closing = false;

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
        notify();
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

  function json(res: http.ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(value));
  }

  async function callBack(url: string, payload: { threadId: string; text: string }, delayMs: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        timers.delete(t);
        resolve();
      }, delayMs);
      timers.add(t);
    });
    if (closing) return;
    const raw = JSON.stringify(payload);
    const record: RecordedCallback = { url, body: payload };
    try {
      const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...authHeaders(auth, raw) }, body: raw });
      record.status = r.status;
      await r.arrayBuffer().catch(() => undefined);
    } catch (err) {
      record.error = (err as Error).message;
    }
    callbacks.push(record);
    notify();
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse, raw: string): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    let body: AgentRequestBody = {};
    let parsed = true;
    try {
      body = JSON.parse(raw) as AgentRequestBody;
    } catch {
      parsed = false;
    }
    const authorized =
      auth.kind === 'none' ||
      (auth.kind === 'bearer' && verifyBearer(auth.token, req.headers.authorization)) ||
      (auth.kind === 'hmac' && verifySignature(auth.secret, raw, req.headers['x-chatgate-signature']));
    requests.push({ path, raw, body, headers: req.headers, authorized, at: Date.now() });

    if (req.method !== 'POST' || path !== agentPath) return json(res, 404, { error: 'not found' });
    if (!authorized) return json(res, 401, { error: 'unauthorized' });
    if (!parsed) return json(res, 400, { error: 'bad json' });

    const b: HttpAgentBehavior = once.length ? (once.shift() as HttpAgentBehavior) : behavior;
    if (b.hang) return;
    if (b.delayMs) await sleep(b.delayMs);
    if (res.destroyed) return;
    if (b.rateLimit) {
      const { retryAfterSeconds, httpDate } = b.rateLimit;
      const value = httpDate ? new Date(Date.now() + retryAfterSeconds * 1000).toUTCString() : String(retryAfterSeconds);
      return json(res, 429, { error: 'slow down' }, { 'retry-after': value });
    }
    if (b.fail) return json(res, b.fail, { error: `failed with ${b.fail}` });

    const text = (b.reply ?? defaultAgentReply)(body);
    const mode = b.mode ?? 'json';

    if (mode === 'async') {
      json(res, 202, { accepted: true });
      if (typeof body.callbackUrl === 'string') {
        void callBack(body.callbackUrl, { threadId: String(body.thread?.id ?? ''), text }, b.callbackDelayMs ?? 20);
      }
      return;
    }
    if (mode === 'json') {
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
      if (b.malformed === 'no-text') res.end(JSON.stringify({ ok: true }));
      else if (b.malformed) res.end('{"text": "unterminated');
      else res.end(JSON.stringify({ [b.replyField ?? 'text']: text }));
      return;
    }

    const sse = mode === 'sse';
    res.writeHead(200, {
      'content-type': sse ? 'text/event-stream; charset=utf-8' : 'application/x-ndjson',
      'cache-control': 'no-cache',
    });
    const frame = (value: unknown) => (sse ? `data: ${JSON.stringify(value)}\n\n` : `${JSON.stringify(value)}\n`);
    if (sse) res.write(': agent stream open\n\n');
    if (b.malformed) {
      res.write(sse ? 'data: {"delta": "bro\n\n' : '{"delta": "bro\n');
      res.end(sse ? 'data: [DONE]\n\n' : '');
      return;
    }
    for (const piece of splitText(text, b.chunks ?? 3)) {
      if (b.chunkDelayMs) await sleep(b.chunkDelayMs);
      if (res.destroyed) return;
      res.write(frame({ delta: piece }));
    }
    res.end(sse ? 'data: [DONE]\n\n' : frame({ done: true }));
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  function waitFor(test: () => boolean, describe: () => string, timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(describe())), timeoutMs);
      const check = () => {
        if (test()) {
          clearTimeout(timer);
          resolve();
        } else waiters.push(check);
      };
      check();
    });
  }

  return {
    url: `http://127.0.0.1:${port}${agentPath}`,
    requests,
    callbacks,
    get active() {
      return active;
    },
    get maxConcurrent() {
      return maxConcurrent;
    },
    get aborted() {
      return aborted;
    },
    setBehavior(b: HttpAgentBehavior, times?: number) {
      if (times === undefined) behavior = { ...b };
      else for (let i = 0; i < times; i++) once.push({ ...b });
    },
    waitForAborts(count: number, timeoutMs = 2000) {
      return waitFor(() => aborted >= count, () => `expected ${count} aborted requests, saw ${aborted}`, timeoutMs);
    },
    async waitForCallbacks(count: number, timeoutMs = 2000) {
      await waitFor(() => callbacks.length >= count, () => `expected ${count} callbacks, saw ${callbacks.length}`, timeoutMs);
      return callbacks.slice();
    },
    close() {
      closing = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
