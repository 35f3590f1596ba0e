/**
 * Retrying an agent request: exponential backoff with full jitter for retryable AgentErrors,
 * honouring the server's Retry-After, a capped number of retries, and only while it is safe: once
 * any part of a reply has reached the user, a second attempt would send the reply twice.
 */
import { AgentError } from './types';

export interface RetryPolicy {
  /** Retries after the first attempt (0 = none). */
  retries: number;
  /** First backoff; doubles with each retry. */
  baseMs: number;
  /** Cap on one backoff, and on a Retry-After we are willing to wait. */
  maxMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { retries: 2, baseMs: 500, maxMs: 30_000 };

/**
 * How long to wait before retry number `attempt` (1 = the first retry), or undefined when the
 * server asked for a longer wait than the policy allows. A Retry-After is taken as it is (it is
 * the server's own word); otherwise a random delay up to base * 2^(attempt-1), at least base/2.
 */
export function backoffDelay(attempt: number, policy: RetryPolicy, err?: AgentError, random: () => number = Math.random): number | undefined {
  const after = err?.options.retryAfterMs;
  if (after !== undefined && Number.isFinite(after) && after >= 0) return after <= policy.maxMs ? after : undefined;
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attempt - 1));
  const floor = Math.min(ceiling, policy.baseMs / 2);
  return Math.round(floor + random() * (ceiling - floor));
}

export interface RetryOptions extends Partial<RetryPolicy> {
  /** Aborts the wait between attempts (and is passed on to each attempt by the caller). */
  signal?: AbortSignal;
  /** False once retrying is no longer safe, e.g. a partial reply has been emitted. */
  canRetry?: () => boolean;
  onRetry?: (err: AgentError, attempt: number, delayMs: number) => void;
  random?: () => number;
}

/** Runs `attempt` until it succeeds, fails for good, or the retries run out; rethrows the last error. */
export async function withRetry<T>(attempt: (n: number) => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const policy: RetryPolicy = {
    retries: Math.max(0, Math.floor(options.retries ?? DEFAULT_RETRY_POLICY.retries)),
    baseMs: options.baseMs ?? DEFAULT_RETRY_POLICY.baseMs,
    maxMs: options.maxMs ?? DEFAULT_RETRY_POLICY.maxMs,
  };
  for (let n = 0; ; n++) {
    try {
      return await attempt(n);
    } catch (err) {
      if (!(err instanceof AgentError) || !err.retryable || n >= policy.retries) throw err;
      if (options.signal?.aborted || (options.canRetry && !options.canRetry())) throw err;
      const delay = backoffDelay(n + 1, policy, err, options.random);
      if (delay === undefined) throw err;
      options.onRetry?.(err, n + 1, delay);
      await sleep(delay, options.signal);
      if (options.signal?.aborted) throw err;
    }
  }
}

/** Waits `ms`, or less when `signal` aborts (it resolves either way; the caller checks the signal). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
