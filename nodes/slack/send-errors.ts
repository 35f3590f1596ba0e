/**
 * What a failed Web API call means, read from what @slack/web-api throws, and the one sentence
 * an operator reads about it. The classification is what decides a retry (web-calls.ts):
 *
 *  - rateLimited: a 429 (or `ok:false ratelimited`). Slack did nothing; wait Retry-After and call again.
 *  - notSent: the request never reached Slack (connection refused, no route, DNS), or Slack says the
 *    body never arrived whole (`request_timeout`). Calling again cannot double anything.
 *  - unknown: the request went out and the answer was lost (a socket closed after sending, our
 *    timeout, a 5xx, `internal_error`): Slack may or may not have done it.
 *  - auth / scope: the token is wrong or revoked, or lacks a scope. Never retried.
 *  - refused: any other `ok:false`. Slack did nothing and will refuse again.
 *
 * Every read is defensive: this runs in rejection handlers, and what is thrown need not be an
 * Error of the shape we expect (a proxy's HTML, a non-Error rejection).
 */
import { errorText, field, numberField, textField } from '../core/error-text';
import { causeCode, NOT_CONNECTED } from '../core/kit/network-failure';
import { Stopped } from '../core/kit/live-connection';
import { describeSafely, redact } from '../core/redact';

/** Looks up a catalog key (RED._ in the node); the default keeps the module usable without Node-RED. */
export type Translate = (key: string, params?: Record<string, string | number>) => string;
export const keyOnly: Translate = (key, params) => `${key} ${JSON.stringify(params ?? {})}`;

/** Slack's answers that mean the token itself is no good (Socket Mode's list plus the revoked ones). */
export const AUTH_ERRORS = new Set(['invalid_auth', 'not_authed', 'account_inactive', 'token_revoked', 'token_expired', 'user_removed_from_team', 'team_disabled', 'not_allowed_token_type', 'ekm_access_denied']);

/** Slack says it did not do the work, but may do it on another try. */
const NOT_DONE_ERRORS = new Set(['request_timeout']);
/** Slack says something failed on its side part way: the call may have taken effect. */
const MAYBE_DONE_ERRORS = new Set(['internal_error', 'fatal_error', 'service_unavailable']);
export type Failure =
  | { kind: 'rateLimited'; retryAfterMs: number }
  | { kind: 'auth'; error: string }
  | { kind: 'scope'; needed?: string }
  | { kind: 'notSent'; detail: string }
  | { kind: 'unknown'; detail: string }
  | { kind: 'refused'; error: string; detail?: string };

/** The `error` of an `ok:false` answer, or undefined when `err` is not one. */
export function platformError(err: unknown): string | undefined {
  if (field(err, 'code') !== 'slack_webapi_platform_error') return undefined;
  return textField(field(err, 'data'), 'error') ?? 'unknown_error';
}

function seconds(n: number | undefined, fallback = 1): number {
  return Math.min(3600, Math.max(0, n ?? fallback));
}

export function classify(err: unknown): Failure {
  const code = field(err, 'code');
  if (code === 'slack_webapi_rate_limited_error') return { kind: 'rateLimited', retryAfterMs: seconds(numberField(err, 'retryAfter')) * 1000 };
  const error = platformError(err);
  if (error !== undefined) {
    if (error === 'ratelimited' || error === 'rate_limited') return { kind: 'rateLimited', retryAfterMs: seconds(numberField(field(field(err, 'data'), 'response_metadata'), 'retryAfter')) * 1000 };
    if (AUTH_ERRORS.has(error)) return { kind: 'auth', error };
    if (error === 'missing_scope') {
      const needed = textField(field(err, 'data'), 'needed');
      return { kind: 'scope', ...(needed ? { needed } : {}) };
    }
    if (NOT_DONE_ERRORS.has(error)) return { kind: 'notSent', detail: error };
    if (MAYBE_DONE_ERRORS.has(error)) return { kind: 'unknown', detail: error };
    const messages = field(field(field(err, 'data'), 'response_metadata'), 'messages');
    const detail = Array.isArray(messages) ? messages.filter((m) => typeof m === 'string').join('; ') : undefined;
    return { kind: 'refused', error, ...(detail ? { detail } : {}) };
  }
  if (code === 'slack_webapi_http_error') {
    const status = numberField(err, 'statusCode') ?? 0;
    // Slack uses no status codes but 200 and 429; a 4xx is a proxy that refused to pass the call on.
    if (status >= 400 && status < 500) return { kind: 'refused', error: `http_${status}` };
    return { kind: 'unknown', detail: `HTTP ${status}` };
  }
  if (code === 'slack_webapi_request_error') {
    const cause = causeCode(err, (code) => code.startsWith('slack_'));
    if (cause && NOT_CONNECTED.has(cause)) return { kind: 'notSent', detail: cause };
    return { kind: 'unknown', detail: cause ?? textField(field(err, 'original'), 'name') ?? 'network error' };
  }
  // With retries off, a 429 without a usable Retry-After comes as a plain Error from the client.
  const message = textField(err, 'message') ?? '';
  if (message.startsWith('Retry header did not contain a valid timeout')) return { kind: 'rateLimited', retryAfterMs: 1000 };
  if (field(err, 'name') === 'TimeoutError' || field(err, 'name') === 'AbortError') return { kind: 'unknown', detail: 'timeout' };
  return { kind: 'unknown', detail: errorText(err, 200) };
}

/** Thrown when a call that may have reached Slack failed and was not repeated (it could post twice). */
export class UncertainError extends Error {
  constructor(
    readonly method: string,
    readonly detail: string,
  ) {
    super(`${method}: ${detail}`);
  }
}

/** Thrown after the longest wait we allow for a rate limit (a 429 storm must not hold a reply forever). */
export class RateLimitedError extends Error {
  constructor(
    readonly method: string,
    readonly seconds: number,
  ) {
    super(`${method}: rate limited`);
  }
}

function describeUnsafe(err: unknown, t: Translate): string {
  if (err instanceof Stopped) return t('slack-out.errors.stopped');
  if (err instanceof UncertainError) return t('slack-out.errors.uncertain', { method: err.method, detail: redact(err.detail) });
  if (err instanceof RateLimitedError) return t('slack-out.errors.rateLimited', { method: err.method, seconds: err.seconds });
  const f = classify(err);
  switch (f.kind) {
    case 'auth':
      return t('slack-out.errors.unauthorized', { error: f.error });
    case 'scope':
      return t('slack-out.errors.missingScope', { scope: f.needed ?? '?' });
    case 'rateLimited':
      return t('slack-out.errors.rateLimited', { method: '?', seconds: Math.round(f.retryAfterMs / 1000) });
    case 'refused':
      return t('slack-out.errors.refused', { error: redact(f.error), detail: redact(f.detail ?? '') }).trim();
    case 'notSent':
      return t('slack-out.errors.network', { message: redact(f.detail) });
    case 'unknown':
      return redact(errorText(err));
  }
}

/** A translated, token-free error for what remains after the connection's own retries. Never throws. */
export function describeSendError(err: unknown, t: Translate = keyOnly): Error {
  return describeSafely(err, (e) => describeUnsafe(e, t));
}
