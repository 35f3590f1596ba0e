/**
 * Retries Bot API calls that failed on the network a few times, quickly, then gives up.
 *
 * @grammyjs/auto-retry retries every network error (grammy's HttpError) WITHOUT LIMIT, with a
 * backoff that grows to an hour: a server or proxy that keeps closing the socket or answering
 * HTML then holds the chat's queue — and the reply's done(), the Catch node, the status — forever.
 * So auto-retry keeps what it is good at (retry_after and 5xx, where Telegram answered and nothing
 * was sent) and rethrows network errors, and this transformer retries those a bounded number of
 * times and then lets the error reach the out node.
 *
 * The trade-off, said plainly: Telegram has no idempotency key, so a send whose request reached
 * Telegram but whose answer was lost is sent again by a retry. A lost reply is worse for a chat
 * than a rare double after a network fault, so sends are retried too (at least once, bounded);
 * a connection that was never made (refused, no route, DNS) cannot double anything.
 */
import { HttpError, type Transformer } from 'grammy';

export interface NetworkRetryOptions {
  /** Retries after the first failure. */
  attempts: number;
  /** Delay before the first retry; doubles after each. */
  delayMs: number;
}

export const NETWORK_RETRY_DEFAULTS: NetworkRetryOptions = { attempts: 4, delayMs: 500 };

function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

export function networkRetry(opts: NetworkRetryOptions = NETWORK_RETRY_DEFAULTS): Transformer {
  return async (prev, method, payload, signal) => {
    let delay = opts.delayMs;
    for (let attempt = 0; ; attempt++) {
      try {
        return await prev(method, payload, signal);
      } catch (err) {
        const s = signal as AbortSignal | undefined;
        if (!(err instanceof HttpError) || attempt >= opts.attempts || s?.aborted) throw err;
        await pause(delay, s);
        delay *= 2;
      }
    }
  };
}
