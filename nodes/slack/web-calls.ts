/**
 * Every Web API call the app makes goes through here, on a web client whose own retries are OFF
 * (`retries: 0`, `rejectRateLimitedCalls`). The web client's retry repeats any failed request,
 * including a chat.postMessage whose answer was lost after Slack posted it — the double reply
 * other gateways are known for — and on a 429 it pauses its whole queue, every channel at once.
 * So the policy is ours, by what a failure means (send-errors.ts):
 *
 *  - 429: wait Retry-After and call again, any method: Slack did nothing. Only the caller waits
 *    (a reply waits in its own channel's lane), up to `maxRateWaitMs` in all.
 *  - not sent (refused connection, DNS, `request_timeout`): call again after a short backoff, a
 *    few times; nothing can double.
 *  - unknown outcome (socket closed after sending, timeout, 5xx, `internal_error`): call again only
 *    when the call is idempotent (chat.update, chat.delete, the assistant status, auth.test);
 *    otherwise throw UncertainError and let the caller find out what happened (post-once.ts).
 *  - auth, missing scope, any other `ok:false`: never again; auth and scope failures are also
 *    reported to the connection, which says so in every node's status.
 */
import { setMaxListeners } from 'node:events';
import { abortableSleep, Stopped } from '../core/kit/live-connection';
import { classify, RateLimitedError, UncertainError, type Failure } from './send-errors';

/** What the calls need of @slack/web-api's WebClient. */
export interface ApiClient {
  apiCall(method: string, options?: Record<string, unknown>): Promise<Record<string, unknown>>;
}

export interface CallOptions {
  /** Repeating the call gives the same result (an update to the same text, a status, a read). */
  idempotent?: boolean;
  /** A call for an optional feature (the assistant status): a missing scope is not reported to the connection. */
  optional?: boolean;
  /** Calls again after a failure that did not reach Slack at most this often (default: the connection's). */
  retries?: number;
}

export interface WebCallsOptions {
  /** The most time one call may spend waiting out 429s before it fails. */
  maxRateWaitMs: number;
  /** First pause before calling again after a failure that did not reach Slack; doubles. */
  retryMinMs: number;
  /** Calls again after such failures at most this often. */
  retries: number;
  /** Auth and scope failures: the connection's status says so. Must not throw. */
  onFatal?(failure: Failure & { kind: 'auth' | 'scope' }, method: string): void;
  /** Each 429 (for a status); must not throw. */
  onRateLimited?(method: string, seconds: number): void;
}

export class WebCalls {
  private stopper = WebCalls.controller();

  constructor(
    private readonly client: ApiClient,
    private readonly opts: WebCallsOptions,
    /** For uploads: the same policy on a client with a longer timeout. */
    private readonly uploadClient: ApiClient = client,
  ) {}

  /** Calls `method`; resolves with Slack's answer or rejects with what web-api threw (or Uncertain/RateLimited). */
  async call<T extends Record<string, unknown> = Record<string, unknown>>(method: string, args: Record<string, unknown> = {}, options: CallOptions = {}): Promise<T> {
    const client = method === 'files.uploadV2' ? this.uploadClient : this.client;
    let waitedMs = 0;
    let retries = 0;
    let backoff = this.opts.retryMinMs;
    for (;;) {
      if (this.stopper.signal.aborted) throw new Stopped();
      try {
        // A fresh copy each time: the web client may add to the object it is given (team_id).
        return (await client.apiCall(method, { ...args })) as T;
      } catch (err) {
        const f = classify(err);
        if (f.kind === 'rateLimited') {
          const seconds = Math.max(1, Math.ceil(f.retryAfterMs / 1000));
          this.opts.onRateLimited?.(method, seconds);
          if (waitedMs + seconds * 1000 > this.opts.maxRateWaitMs) throw new RateLimitedError(method, seconds);
          waitedMs += seconds * 1000;
          await this.pause(seconds * 1000);
          continue;
        }
        if (f.kind === 'auth' || (f.kind === 'scope' && !options.optional)) {
          this.opts.onFatal?.(f, method);
          throw err;
        }
        if (f.kind === 'scope') throw err;
        const again = f.kind === 'notSent' || (f.kind === 'unknown' && options.idempotent === true);
        if (again && retries < (options.retries ?? this.opts.retries)) {
          retries += 1;
          await this.pause(backoff);
          backoff *= 2;
          continue;
        }
        if (f.kind === 'unknown' && !options.idempotent) throw new UncertainError(method, f.detail);
        throw err;
      }
    }
  }

  /** Ends every wait; calls in flight finish, later ones throw StoppedError. */
  close(): void {
    this.stopper.abort();
  }

  /** After close(): calls work again (the connection was started again). */
  reopen(): void {
    if (this.stopper.signal.aborted) this.stopper = WebCalls.controller();
  }

  /** Every waiting call listens on one signal: many channels may wait out a 429 at once. */
  private static controller(): AbortController {
    const c = new AbortController();
    setMaxListeners(0, c.signal);
    return c;
  }

  get closed(): boolean {
    return this.stopper.signal.aborted;
  }

  private pause(ms: number): Promise<void> {
    return abortableSleep(ms, this.stopper.signal);
  }
}
