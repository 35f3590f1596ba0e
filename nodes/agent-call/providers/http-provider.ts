/**
 * An external agent process reached over HTTP: the turn is POSTed as JSON, the reply comes back
 * whole (JSON), streamed (SSE or NDJSON) or later (202, then a POST to the callback route).
 * No retries here: the agent call node retries using AgentError.retryable and retryAfterMs.
 */
import type { AgentProvider, AgentRequest, AgentResult } from '../../core/agent/types';
import { AgentError } from '../../core/agent/types';
import { StreamFormatError, readEvents, type StreamKind } from '../../core/agent/sse';
import { signBody } from '../../core/signature';
import { ChatSchema, type Chat } from '../../core/envelope';
import type { HttpAgentConfig, ProviderCredentials } from './index';

/** A chat as the envelope defines it, without fields a flow added to msg.chat. */
function envelopeFields(chat: Chat): Chat {
  const parsed = ChatSchema.safeParse(chat);
  return parsed.success ? parsed.data : chat;
}

/** Replies larger than this are refused rather than buffered. */
const MAX_REPLY_BYTES = 4 * 1024 * 1024;
/** How much of an error body goes into the error message. */
const ERROR_SNIPPET_CHARS = 200;

/** Milliseconds to wait from `Retry-After` (seconds or an HTTP date) or `retry-after-ms`. */
export function parseRetryAfter(headers: Headers | undefined | null, now = Date.now()): number | undefined {
  const ms = headers?.get('retry-after-ms');
  if (ms && /^\d+(\.\d+)?$/.test(ms.trim())) return Math.round(Number(ms));
  const value = headers?.get('retry-after')?.trim();
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Math.round(Number(value) * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** `text` with every secret and any bearer token replaced by `***`. */
export function redact(text: string, secrets: ReadonlyArray<string | undefined>): string {
  let out = text;
  for (const s of secrets) if (s && s.length >= 4) out = out.split(s).join('***');
  return out.replace(/(Bearer\s+)[^\s"',;]+/gi, '$1***');
}

/** The host of `url` for labels: no credentials, path or query, which may hold secrets. */
export function hostOf(url: string): string {
  try {
    return new URL(url).host || url;
  } catch {
    return 'invalid URL';
  }
}

/**
 * Aborts its signal when the caller's signal aborts, or when `ms` pass without a `kick()`: a
 * timeout on silence, so a long reply that keeps streaming is never cut.
 */
export class Watchdog {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private readonly onAbort = () => this.controller.abort(this.outer.reason);
  timedOut = false;

  constructor(
    private readonly outer: AbortSignal,
    private readonly ms: number,
  ) {
    if (outer.aborted) this.controller.abort(outer.reason);
    else outer.addEventListener('abort', this.onAbort, { once: true });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  kick(): void {
    if (!(this.ms > 0) || this.controller.signal.aborted) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timedOut = true;
      this.controller.abort(new Error('timed out'));
    }, this.ms);
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.outer.removeEventListener('abort', this.onAbort);
  }
}

/** Network failures from fetch carry the useful part (ECONNREFUSED, ENOTFOUND) in `cause`. */
function describeNetworkError(err: unknown): string {
  const e = err as { message?: string; cause?: { code?: string; message?: string } };
  const cause = e?.cause?.code ?? e?.cause?.message;
  return cause ? `${e.message ?? 'fetch failed'} (${cause})` : (e?.message ?? String(err));
}

/** Wraps an exception thrown by the caller's onDelta, so it is passed on as is and not taken for a network error. */
export class CallerError extends Error {
  constructor(override readonly cause: unknown) {
    super('onDelta failed');
  }
}

function pieceOf(data: unknown): { piece?: string; done?: boolean; error?: string } {
  if (!data || typeof data !== 'object') return {};
  const d = data as Record<string, unknown>;
  if (typeof d.delta === 'string') return { piece: d.delta };
  if (typeof d.text === 'string') return { piece: d.text };
  if (d.error !== undefined && d.error !== null) return { error: typeof d.error === 'string' ? d.error : JSON.stringify(d.error) };
  if (d.done === true) return { done: true };
  return {};
}

export class HttpAgentProvider implements AgentProvider {
  readonly label: string;
  private readonly url: URL;
  private readonly token?: string;
  private readonly secret?: string;

  constructor(
    private readonly config: HttpAgentConfig,
    credentials: ProviderCredentials = {},
  ) {
    let url: URL;
    try {
      url = new URL(config.url);
    } catch {
      throw new Error('HTTP agent URL is not a valid URL');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('HTTP agent URL must be http or https');
    this.url = url;
    this.label = `HTTP agent ${url.host}`;
    this.token = credentials.token || undefined;
    this.secret = credentials.secret || undefined;
    if (config.auth === 'bearer' && !this.token) throw new Error('HTTP agent: bearer auth needs a token');
    if (config.auth === 'hmac' && !this.secret) throw new Error('HTTP agent: HMAC auth needs a secret');
  }

  private fail(message: string, kind: AgentError['kind'], options: { status?: number; retryAfterMs?: number } = {}): AgentError {
    return new AgentError(redact(`${this.label}: ${message}`, [this.token, this.secret]), kind, options);
  }

  async complete(request: AgentRequest, onDelta?: (delta: string) => void): Promise<AgentResult> {
    const payload = {
      text: request.text,
      thread: request.thread,
      // The envelope's fields only: the node hands over the message's own msg.chat, which may hold more.
      chat: envelopeFields(request.chat),
      ...(this.config.includeHistory ? { history: request.history } : {}),
      ...(this.config.async && this.config.callbackUrl ? { callbackUrl: this.config.callbackUrl } : {}),
    };
    const body = Buffer.from(JSON.stringify(payload), 'utf8');
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream, application/x-ndjson',
    };
    if (this.config.auth === 'bearer' && this.token) headers.authorization = `Bearer ${this.token}`;
    if (this.config.auth === 'hmac' && this.secret) headers['x-chatgate-signature'] = signBody(this.secret, body);

    const watchdog = new Watchdog(request.signal, this.config.timeoutMs);
    watchdog.kick();
    try {
      // Redirects are not followed: they would carry the signature (or the token) to another URL.
      const res = await fetch(this.url, { method: 'POST', headers, body, signal: watchdog.signal, redirect: 'manual' });
      watchdog.kick();
      return await this.read(res, watchdog, onDelta);
    } catch (err) {
      if (err instanceof CallerError) throw err.cause;
      if (err instanceof AgentError) throw err;
      if (watchdog.timedOut) throw this.fail(`no answer within ${this.config.timeoutMs} ms`, 'timeout');
      if (request.signal.aborted) throw this.fail('request cancelled', 'aborted');
      if (err instanceof StreamFormatError) throw this.fail(err.message, 'malformed');
      throw this.fail(describeNetworkError(err), 'connection');
    } finally {
      watchdog.dispose();
    }
  }

  private async read(res: Response, watchdog: Watchdog, onDelta?: (delta: string) => void): Promise<AgentResult> {
    const status = res.status;
    if (status === 202) {
      await res.body?.cancel().catch(() => undefined);
      return { kind: 'deferred' };
    }
    if (status < 200 || status >= 300) {
      const snippet = (await readText(res, ERROR_SNIPPET_CHARS * 4, watchdog, true).catch(() => '')).slice(0, ERROR_SNIPPET_CHARS).trim();
      const what = `answered ${status}${snippet ? `: ${snippet}` : ''}`;
      if (status === 429) return Promise.reject(this.fail(what, 'rate-limit', { status, retryAfterMs: parseRetryAfter(res.headers) }));
      if (status >= 500) return Promise.reject(this.fail(what, 'server', { status }));
      if (status === 408) return Promise.reject(this.fail(what, 'timeout', { status }));
      if (status >= 300 && status < 400) return Promise.reject(this.fail(`answered a redirect (${status}); use the final URL`, 'client', { status }));
      return Promise.reject(this.fail(what, 'client', { status }));
    }

    const type = (res.headers.get('content-type') ?? '').toLowerCase();
    const kind: StreamKind | undefined = type.includes('text/event-stream')
      ? 'sse'
      : type.includes('application/x-ndjson') || type.includes('application/jsonl')
        ? 'ndjson'
        : undefined;
    if (kind && res.body) return this.readStream(res.body, kind, watchdog, onDelta);

    const raw = await readText(res, MAX_REPLY_BYTES, watchdog);
    let data: unknown;
    try {
      data = JSON.parse(raw);
    } catch {
      throw this.fail(`answered ${status} with a body that is not JSON`, 'malformed', { status });
    }
    const d = (data && typeof data === 'object' ? data : {}) as Record<string, unknown>;
    const text = typeof d.text === 'string' ? d.text : typeof d.reply === 'string' ? d.reply : undefined;
    if (text === undefined) throw this.fail('reply has no "text" (or "reply") string', 'malformed', { status });
    return { kind: 'reply', text };
  }

  private async readStream(
    body: ReadableStream<Uint8Array>,
    kind: StreamKind,
    watchdog: Watchdog,
    onDelta?: (delta: string) => void,
  ): Promise<AgentResult> {
    let text = '';
    let seen = false;
    for await (const data of readEvents(body, kind)) {
      watchdog.kick();
      if (data === '[DONE]') {
        seen = true;
        break;
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(data);
      } catch {
        throw this.fail(`sent a ${kind === 'sse' ? 'stream event' : 'line'} that is not JSON`, 'malformed');
      }
      const { piece, done, error } = pieceOf(parsed);
      if (error !== undefined) throw this.fail(`reported an error: ${error.slice(0, ERROR_SNIPPET_CHARS)}`, 'server');
      if (done) {
        seen = true;
        break;
      }
      if (piece === undefined) continue;
      seen = true;
      if (!piece) continue;
      text += piece;
      if (text.length > MAX_REPLY_BYTES) throw this.fail('reply too large', 'malformed');
      try {
        onDelta?.(piece);
      } catch (err) {
        throw new CallerError(err);
      }
    }
    if (!seen) throw this.fail('stream ended without a reply', 'malformed');
    return { kind: 'reply', text };
  }
}

/**
 * The body as text, at most `maxBytes`: longer bodies are refused, or cut when `truncate` (error
 * snippets). Each chunk kicks the watchdog.
 */
async function readText(res: Response, maxBytes: number, watchdog: Watchdog, truncate = false): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      watchdog.kick();
      size += value.byteLength;
      parts.push(value);
      if (size > maxBytes) {
        await reader.cancel().catch(() => undefined);
        if (truncate) break;
        throw new StreamFormatError(`reply larger than ${maxBytes} bytes`);
      }
    }
  } finally {
    reader.releaseLock();
  }
  return Buffer.concat(parts).toString('utf8');
}
