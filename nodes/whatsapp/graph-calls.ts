/**
 * Every Graph API call of one WhatsApp account, over Node's fetch (there is no official SDK for the
 * Cloud API, and a thin client keeps the retry policy ours). The policy follows what a failure
 * means (send-errors.ts):
 *
 *  - Meta's rate limits (131056 to one user, 130429 for the number): the same call waits and goes
 *    again — Meta did not send it — for at most `maxRateWaitMs`, then fails with RateWaitError.
 *    A 131056 waits `pairWaitMs` (Meta's pair rate is about one message per 6 s), a throughput
 *    limit 1 s doubling.
 *  - not sent (refused connection, DNS) and transient errors Meta answered itself: again after a
 *    short backoff, a few times.
 *  - unknown outcome (a timeout, a reset socket, a proxy's 5xx page): again only when repeating
 *    cannot double anything (reads, read receipts, uploads); a message send throws UncertainError,
 *    so the operator reads that the reply may be missing, never that it arrived twice. The Cloud API
 *    has no idempotency key to make a resend safe.
 *  - 190 / 401: never again; `onUnauthorized` lets every node's status say so.
 *  - any other error: thrown at once.
 *
 * The token goes in the Authorization header only, never in a URL; media downloads send it only to
 * the API's own origin and never follow a redirect with it.
 */
import { setMaxListeners } from 'node:events';
import { fetchCapped, type DownloadResult } from '../core/kit/capped-fetch';
import { abortableSleep, Stopped } from '../core/kit/live-connection';
import { classify, graphError, RateWaitError, UncertainError } from './send-errors';

/** What repeating the call would do: nothing new (a read, a receipt, an upload), or maybe a second message. */
export type CallKind = 'read' | 'idempotent' | 'create';

export interface CallOptions {
  kind: CallKind;
  /** A JSON body (POST), or a multipart form (uploads). */
  body?: unknown;
  form?: FormData;
  /** What the call is, for errors (`the message send`); never a token. */
  what: string;
  /** Wait out Meta's rate limits (sends); false fails at once (cosmetic calls: read receipts). */
  rateWait?: boolean;
  /** Calls again after a failure at most this often. */
  retries?: number;
}

export interface GraphCallsOptions {
  /** `${apiRoot}/${version}`. */
  graphBase: string;
  /** Where the token may be sent (media URLs must be on it). */
  apiOrigin: string;
  token: string;
  timeoutMs: number;
  uploadTimeoutMs?: number;
  maxRateWaitMs: number;
  pairWaitMs: number;
  retryMinMs?: number;
  /** 190 or 401: the token is no good. Must not throw. */
  onUnauthorized?(detail: string): void;
}

const RETRIES = 3;

export class GraphCalls {
  private stopper = new AbortController();

  constructor(private readonly opts: GraphCallsOptions) {
    setMaxListeners(0, this.stopper.signal);
  }

  /** Calls waiting out a rate limit or a backoff end now (the connection's last user left). */
  close(): void {
    this.stopper.abort();
  }

  reopen(): void {
    if (!this.stopper.signal.aborted) return;
    this.stopper = new AbortController();
    setMaxListeners(0, this.stopper.signal);
  }

  get(path: string, what: string): Promise<unknown> {
    return this.call('GET', path, { kind: 'read', what });
  }

  post(path: string, body: unknown, opts: Omit<CallOptions, 'body'>): Promise<unknown> {
    return this.call('POST', path, { ...opts, body });
  }

  async call(method: 'GET' | 'POST', path: string, o: CallOptions): Promise<unknown> {
    const stop = this.stopper.signal;
    const retries = o.retries ?? RETRIES;
    let failures = 0;
    let waitedMs = 0;
    let throughputWait = 1000;
    for (;;) {
      if (stop.aborted) throw new Stopped();
      try {
        return await this.once(method, path, o);
      } catch (err) {
        if (stop.aborted) throw new Stopped();
        const f = classify(err);
        if (f.kind === 'auth') {
          this.opts.onUnauthorized?.(f.message);
          throw err;
        }
        if ((f.kind === 'pairRate' || f.kind === 'throughput') && o.rateWait) {
          const wait = f.kind === 'pairRate' ? this.opts.pairWaitMs : Math.min(throughputWait, 30000);
          if (f.kind === 'throughput') throughputWait *= 2;
          if (waitedMs + wait > this.opts.maxRateWaitMs) throw new RateWaitError(f.code ?? 0, waitedMs);
          waitedMs += wait;
          await abortableSleep(wait, stop);
          continue;
        }
        const again = f.kind === 'notSent' || f.kind === 'transient' || (f.kind === 'unknown' && o.kind !== 'create');
        if (f.kind === 'unknown' && o.kind === 'create') throw new UncertainError(o.what, f.detail);
        if (!again || failures >= retries) throw err;
        await abortableSleep((this.opts.retryMinMs ?? 250) * 2 ** failures, stop);
        failures++;
      }
    }
  }

  /** Downloads a media URL with the token (only on the API's own origin), up to `maxBytes`. */
  download(url: string, maxBytes: number): Promise<DownloadResult> {
    let origin: string;
    try {
      origin = new URL(url).origin;
    } catch {
      return Promise.resolve({ ok: false, reason: 'failed', message: 'not a URL' });
    }
    // Meta's media URLs live on its own hosts (lookaside.fbsbx.com); the token goes nowhere else.
    if (origin !== this.opts.apiOrigin && !/^https:\/\/([a-z0-9-]+\.)*(fbsbx\.com|facebook\.com|whatsapp\.net)$/.test(origin)) {
      return Promise.resolve({ ok: false, reason: 'failed', message: 'the media URL is not on a Meta host' });
    }
    return fetchCapped(url, { maxBytes, timeoutMs: this.opts.uploadTimeoutMs ?? 60000, headers: { authorization: `Bearer ${this.opts.token}` }, redirect: 'error' });
  }

  private async once(method: string, path: string, o: CallOptions): Promise<unknown> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.opts.token}` };
    let body: string | FormData | undefined;
    if (o.form) body = o.form;
    else if (o.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(o.body);
    }
    const timeout = o.form ? (this.opts.uploadTimeoutMs ?? 60000) : this.opts.timeoutMs;
    const signal = AbortSignal.any([AbortSignal.timeout(timeout), this.stopper.signal]);
    const res = await fetch(`${this.opts.graphBase}/${path.replace(/^\/+/, '')}`, { method, headers, ...(body !== undefined ? { body } : {}), signal, redirect: 'error' });
    const text = await res.text();
    if (!res.ok) throw graphError(res.status, text);
    try {
      return JSON.parse(text) as unknown;
    } catch {
      // A 200 that is not JSON: the call did what it did; the caller finds no fields in it.
      return {};
    }
  }
}
