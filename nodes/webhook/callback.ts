/**
 * Delivers a reply to the operator's callback URL: a JSON POST, signed when a callback secret is
 * set, retried on network errors and 5xx answers (the receiver may be restarting), never on 4xx
 * (the receiver has refused it, and asking again would not change its mind).
 */
import { signBody } from '../core/signature';

export interface CallbackBody {
  messageId?: string;
  chatId: string;
  userId: string;
  text: string;
  thread?: { id: string };
  stream?: { id: string; seq: number; done: boolean };
}

export interface CallbackOptions {
  secret?: string;
  signatureHeader: string;
  /** Per attempt. */
  timeoutMs?: number;
  /** Retries after the first attempt. */
  retries?: number;
  /** First backoff; doubles each retry. */
  backoffMs?: number;
  /** Aborts waiting between retries (the node is closing). */
  signal?: AbortSignal;
}

export class CallbackError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'CallbackError';
  }
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

/** POSTs `body` to `url`; resolves on 2xx, throws a CallbackError naming the last failure. The URL is
 * never part of the error: operators put tokens in query strings. */
export async function postCallback(url: string, body: CallbackBody, opts: CallbackOptions): Promise<void> {
  const raw = JSON.stringify(body);
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (opts.secret) headers[opts.signatureHeader] = signBody(opts.secret, raw);
  const retries = opts.retries ?? 3;
  let backoff = opts.backoffMs ?? 250;
  let last: CallbackError | undefined;
  for (let attempt = 0; attempt <= retries; attempt++) {
    if (attempt > 0) {
      if (opts.signal?.aborted) break;
      await sleep(backoff, opts.signal);
      backoff *= 2;
    }
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers,
        body: raw,
        signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000),
      });
      // The body is not needed; reading it frees the connection for keep-alive.
      await res.arrayBuffer().catch(() => undefined);
      if (res.ok) return;
      last = new CallbackError(`callback answered HTTP ${res.status}`, res.status);
      if (res.status < 500) throw last;
    } catch (err) {
      if (err instanceof CallbackError && err.status !== undefined && err.status < 500) throw err;
      if (!(err instanceof CallbackError)) {
        const e = err as Error & { cause?: { code?: string } };
        const why = e.name === 'TimeoutError' ? 'timed out' : (e.cause?.code ?? 'network error');
        last = new CallbackError(`callback failed: ${why}`);
      }
    }
  }
  throw new CallbackError(`${last?.message ?? 'callback failed'} (after ${retries + 1} attempts)`, last?.status);
}
