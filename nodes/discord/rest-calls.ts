/**
 * Every REST call the bot makes goes through here, on @discordjs/rest managers whose own retries
 * are OFF (`retries: 0`). Left on, the manager repeats a request after a 5xx, a timeout or a reset
 * socket — including a POST whose message Discord had already created, the double reply other
 * gateways are known for. Its rate-limit handling stays: a 429 is waited out in the route's own
 * bucket (per channel, per webhook) and sent again (Discord did nothing), and requests to one
 * bucket leave in order. The policy for the rest is ours, by what a failure means (send-errors.ts):
 *
 *  - not sent (refused connection, DNS): called again after a short backoff, a few times.
 *  - unknown outcome (a 5xx, the timeout, a reset socket): called again only when repeating cannot
 *    double anything — reads, edits, deletes, typing, and message POSTs that carry a `nonce` with
 *    `enforce_nonce` (Discord then answers a repeat with the message it created the first time).
 *    Anything else (interaction callbacks, webhook follow-ups) throws UncertainError.
 *  - 401: never again; the connection says so in every node's status.
 *  - any other 4xx, and 429 waits longer than `maxRateWaitMs`: thrown at once.
 */
import { setMaxListeners } from 'node:events';
import { REST, type RawFile } from 'discord.js';
import { abortableSleep, Stopped } from '../core/kit/live-connection';
import { classify, UncertainError } from './send-errors';

/** What repeating the call would do: nothing new (read, idempotent, create with a nonce), or maybe a second one (once). */
export type CallKind = 'read' | 'idempotent' | 'create' | 'once';

export type Method = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';

export interface CallOptions {
  kind: CallKind;
  body?: unknown;
  files?: RawFile[];
  /** false for interaction callbacks and webhook calls: they carry no Authorization header. */
  auth?: boolean;
  query?: URLSearchParams;
  /** Calls again after a failure at most this often (default: the connection's). */
  retries?: number;
  /** What the call is, for an UncertainError (`POST /webhooks/...`); never holds a token. */
  what?: string;
}

export interface RestCallsOptions {
  /** `${apiRoot}/api`. */
  api: string;
  token: string;
  timeoutMs: number;
  /** Uploads may take longer than a call. */
  uploadTimeoutMs: number;
  /** The longest 429 wait (Retry-After) one request may be queued for before it fails. */
  maxRateWaitMs: number;
  retryMinMs: number;
  retries: number;
  /** A 401: the token is no good. Must not throw. */
  onUnauthorized?(): void;
}

/** That many in a second, for one call, and it fails instead of being repeated again. */
const NO_WAIT_LIMIT = 5;

export class RestCalls {
  /** Sends, edits, typing, commands: the bucket queues every call shares. */
  readonly rest: REST;
  private readonly uploads: REST;
  private stopper = RestCalls.controller();
  private readonly noWait = new Map<string, { count: number; since: number }>();

  constructor(private readonly opts: RestCallsOptions) {
    const make = (timeout: number) =>
      new REST({
        api: opts.api,
        retries: 0,
        timeout,
        // Ordinary 429s are waited out in their bucket; one that would hold a reply too long fails
        // instead, and so do 429s that name no wait, over and over (the manager would repeat the
        // call at once, forever: a proxy that answers 429 without Retry-After).
        rejectOnRateLimit: (data) => data.retryAfter > opts.maxRateWaitMs || this.noWaitStorm(`${data.method} ${data.url}`, data.retryAfter),
      }).setToken(opts.token);
    this.rest = make(opts.timeoutMs);
    this.uploads = make(opts.uploadTimeoutMs);
  }

  /**
   * Whether `key` got more than a few 429s without a Retry-After within a second. The manager hands
   * such a 429 over with a wait of exactly 0 (one with the header waits at least its offset, and a
   * bucket it waits out ahead of time has a reset in the future).
   */
  private noWaitStorm(key: string, retryAfterMs: number): boolean {
    if (retryAfterMs > 0) return false;
    const now = Date.now();
    const seen = this.noWait.get(key);
    const entry = seen && now - seen.since < 1000 ? seen : { count: 0, since: now };
    entry.count += 1;
    if (this.noWait.size > 1000) this.noWait.clear();
    this.noWait.set(key, entry);
    return entry.count > NO_WAIT_LIMIT;
  }

  /** Calls `method route`; resolves with Discord's answer (parsed JSON, or undefined for 204). */
  async call<T = unknown>(method: Method, route: `/${string}`, options: CallOptions): Promise<T> {
    const rest = options.files?.length ? this.uploads : this.rest;
    let tries = 0;
    let backoff = this.opts.retryMinMs;
    const limit = options.retries ?? this.opts.retries;
    for (;;) {
      if (this.stopper.signal.aborted) throw new Stopped();
      try {
        return (await rest.request({
          method: method as never,
          fullRoute: route,
          ...(options.body !== undefined ? { body: options.body } : {}),
          ...(options.files?.length ? { files: options.files } : {}),
          ...(options.auth === false ? { auth: false } : {}),
          ...(options.query ? { query: options.query } : {}),
          signal: this.stopper.signal,
        })) as T;
      } catch (err) {
        if (this.stopper.signal.aborted) throw new Stopped();
        const f = classify(err);
        if (f.kind === 'auth') {
          if (options.auth !== false) this.opts.onUnauthorized?.();
          throw err;
        }
        const again = f.kind === 'notSent' || (f.kind === 'unknown' && options.kind !== 'once');
        if (again && tries < limit) {
          tries += 1;
          await abortableSleep(backoff, this.stopper.signal);
          backoff *= 2;
          continue;
        }
        if (f.kind === 'unknown' && options.kind === 'once') throw new UncertainError(options.what ?? `${method} ${route.split('/').slice(0, 2).join('/')}`, f.detail);
        throw err;
      }
    }
  }

  /** Ends every wait; calls in flight end with Stopped. */
  close(): void {
    this.stopper.abort();
    for (const r of [this.rest, this.uploads]) {
      r.clearHashSweeper();
      r.clearHandlerSweeper();
    }
  }

  /** After close(): calls work again (the connection was started again). */
  reopen(): void {
    if (this.stopper.signal.aborted) this.stopper = RestCalls.controller();
  }

  get closed(): boolean {
    return this.stopper.signal.aborted;
  }

  /** Every waiting call listens on one signal: many channels may wait at once. */
  private static controller(): AbortController {
    const c = new AbortController();
    setMaxListeners(0, c.signal);
    return c;
  }
}
