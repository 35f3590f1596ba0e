/**
 * What a failed Discord REST call means, read from what @discordjs/rest throws, and the one
 * sentence an operator reads about it. The classification decides a retry (rest-calls.ts):
 *
 *  - rateLimited: our own bound on 429 waits was passed (RateLimitError from `rejectOnRateLimit`);
 *    the request was not sent again. Ordinary 429s never get here: the REST manager waits them out.
 *  - notSent: the request never reached Discord (connection refused, no route, DNS).
 *  - unknown: the request went out and the answer was lost (a reset socket, the timeout, a 5xx):
 *    Discord may or may not have done it.
 *  - auth: 401, the token is wrong or was reset; every later call fails the same way. Never retried
 *    (Discord bans an IP that keeps sending invalid requests).
 *  - forbidden (403: the bot lacks a permission or access), notFound (404: unknown channel,
 *    message or interaction), refused (any other 4xx): Discord did nothing and will refuse again.
 *
 * Every read is defensive: this runs in rejection handlers, and what is thrown need not be the
 * Error we expect.
 */
import { DiscordAPIError, HTTPError, RateLimitError } from 'discord.js';
import { errorText, field, numberField, textField } from '../core/error-text';
import { causeCode, NOT_CONNECTED } from '../core/kit/network-failure';
import { Stopped } from '../core/kit/live-connection';
import { UncertainError } from '../core/kit/uncertain';
import { describeSafely, redact } from '../core/redact';

/** Looks up a catalog key (RED._ in the node); the default keeps the module usable without Node-RED. */
export type Translate = (key: string, params?: Record<string, string | number>) => string;
export const keyOnly: Translate = (key, params) => `${key} ${JSON.stringify(params ?? {})}`;

export type Failure =
  | { kind: 'rateLimited'; retryAfterMs: number }
  | { kind: 'auth' }
  | { kind: 'notSent'; detail: string }
  | { kind: 'unknown'; detail: string }
  | { kind: 'forbidden' | 'notFound' | 'refused'; status: number; code: string; message: string };

export function classify(err: unknown): Failure {
  const name = textField(err, 'name') ?? '';
  if (err instanceof RateLimitError || name.startsWith('RateLimitError')) {
    return { kind: 'rateLimited', retryAfterMs: Math.max(0, numberField(err, 'retryAfter') ?? 1000) };
  }
  const status = numberField(err, 'status');
  if (status !== undefined && (err instanceof DiscordAPIError || field(err, 'rawError') !== undefined)) {
    // DiscordAPIError: Discord's JSON error, `{ code, message, errors }`.
    const code = String(field(err, 'code') ?? '');
    const message = textField(field(err, 'rawError'), 'message') ?? textField(err, 'message') ?? 'error';
    if (status === 401) return { kind: 'auth' };
    if (status === 403) return { kind: 'forbidden', status, code, message };
    if (status === 404) return { kind: 'notFound', status, code, message };
    if (status >= 500) return { kind: 'unknown', detail: `HTTP ${status}` };
    return { kind: 'refused', status, code, message };
  }
  if (status !== undefined && (err instanceof HTTPError || name === 'HTTPError')) {
    if (status >= 500) return { kind: 'unknown', detail: `HTTP ${status}` };
    if (status === 401) return { kind: 'auth' };
    return { kind: 'refused', status, code: String(status), message: textField(err, 'message') ?? `HTTP ${status}` };
  }
  const message = textField(err, 'message') ?? '';
  // After a 401 the REST manager forgets the token; every later call says this.
  if (message.startsWith('Expected token to be set for this request')) return { kind: 'auth' };
  if (name === 'AbortError' || name === 'TimeoutError') return { kind: 'unknown', detail: 'timeout' };
  const cause = causeCode(err);
  if (cause && NOT_CONNECTED.has(cause)) return { kind: 'notSent', detail: cause };
  if (cause) return { kind: 'unknown', detail: cause };
  return { kind: 'unknown', detail: errorText(err, 200) };
}

export { UncertainError };

/** An interaction's token is valid for 15 minutes; a reply later than that cannot edit or follow up. */
export class InteractionExpiredError extends Error {}

/**
 * Discord paths carry webhook and interaction tokens (`/webhooks/<app>/<token>/...`,
 * `/interactions/<id>/<token>/callback`); they are credentials for 15 minutes. Removed from any
 * text that may hold a request URL.
 */
export function scrubPaths(text: string): string {
  return text.replace(/(\/(?:webhooks|interactions)\/\d{5,}\/)[^/\s?"']{8,}/g, `$1***`);
}

function describeUnsafe(err: unknown, t: Translate): string {
  if (err instanceof Stopped) return t('discord-out.errors.stopped');
  if (err instanceof UncertainError) return t('discord-out.errors.uncertain', { what: err.what, detail: scrubPaths(redact(err.detail)) });
  if (err instanceof InteractionExpiredError) return t('discord-out.errors.expired');
  const f = classify(err);
  switch (f.kind) {
    case 'auth':
      return t('discord-out.errors.unauthorized');
    case 'rateLimited':
      return t('discord-out.errors.rateLimited', { seconds: Math.ceil(f.retryAfterMs / 1000) });
    case 'forbidden':
      return t('discord-out.errors.forbidden', { code: f.code, message: scrubPaths(redact(f.message)) });
    case 'notFound':
      return t('discord-out.errors.notFound', { code: f.code, message: scrubPaths(redact(f.message)) });
    case 'refused':
      return t('discord-out.errors.refused', { status: f.code ? `${f.status} ${f.code}` : String(f.status), message: scrubPaths(redact(f.message)) });
    case 'notSent':
      return t('discord-out.errors.network', { message: f.detail });
    case 'unknown':
      return scrubPaths(redact(errorText(err)));
  }
}

/** A translated, token-free error for what remains after the connection's own retries. Never throws. */
export function describeSendError(err: unknown, t: Translate = keyOnly): Error {
  return describeSafely(err, (e) => scrubPaths(describeUnsafe(e, t)));
}
