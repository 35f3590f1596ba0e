/**
 * What a failed Graph API call means, and the one sentence an operator reads about it. Meta
 * answers errors as `{error: {message, type, code, error_subcode, error_data: {details},
 * is_transient, fbtrace_id}}` and advises building on `code` and `details`, not on the HTTP status
 * (a pair-rate hit is a 400) nor on the message text. The classification decides what a sender does:
 *
 *  - auth (190, or a 401): the token expired or was revoked; every later call fails the same way.
 *  - window (131047): more than 24 hours since the user last wrote; only a template may go.
 *  - pairRate (131056): too many messages to this one user; wait and send the same part again.
 *  - throughput (130429, 80007, 4, 613): the number's or the app's rate; wait and send again.
 *  - transient (is_transient, 1, 2, 131000, 131016 in Meta's own JSON): Meta says the call failed;
 *    sending again cannot double anything.
 *  - refused (any other error Meta answered): fix the request; sending again is refused again.
 *  - notSent: the request never reached Meta (connection refused, DNS).
 *  - unknown: the request went out and the answer was lost (timeout, reset socket, a 5xx that is
 *    not Meta's JSON — a proxy's page): Meta may have sent the message.
 *
 * Every read is defensive: this runs in rejection handlers, on bodies of any shape.
 */
import { errorText, field, numberField, textField, truncate } from '../core/error-text';
import { causeCode, NOT_CONNECTED } from '../core/kit/network-failure';
import { Stopped } from '../core/kit/live-connection';
import { UncertainError } from '../core/kit/uncertain';
import { describeSafely, redact } from '../core/redact';

export { UncertainError };

export type Translate = (key: string, params?: Record<string, string | number>) => string;
export const keyOnly: Translate = (key, params) => `${key} ${JSON.stringify(params ?? {})}`;

/** An answer from the Graph API that is not a success. */
export class GraphError extends Error {
  constructor(
    readonly status: number,
    /** Meta's `error.code`, when the body was Meta's error JSON. */
    readonly code: number | undefined,
    /** Meta's `error.message` (`(#131047) Re-engagement message`), or what the body was. */
    readonly metaMessage: string,
    readonly details: string | undefined,
    readonly transient: boolean,
  ) {
    super(code !== undefined ? `${metaMessage}${details ? `: ${details}` : ''}` : metaMessage);
    this.name = 'GraphError';
  }
}

/** Reads an error answer of any shape: Meta's JSON, another JSON, HTML, nothing. Never throws. */
export function graphError(status: number, bodyText: string): GraphError {
  let body: unknown;
  try {
    body = JSON.parse(bodyText);
  } catch {
    body = undefined;
  }
  const e = field(body, 'error');
  const code = numberField(e, 'code');
  if (e && typeof e === 'object' && code !== undefined) {
    const message = truncate(textField(e, 'message') ?? `error ${code}`, 300);
    const details = textField(field(e, 'error_data'), 'details');
    return new GraphError(status, code, message, details ? truncate(details, 300) : undefined, field(e, 'is_transient') === true);
  }
  const kind = body === undefined ? (bodyText.trim() ? 'an answer that is not JSON' : 'an empty answer') : 'an answer that is not a Graph API error';
  return new GraphError(status, undefined, `HTTP ${status} with ${kind}`, undefined, false);
}

export const WINDOW_CLOSED = 131047;
export const PAIR_RATE = 131056;
const THROUGHPUT = new Set([130429, 80007, 4, 613]);
const TRANSIENT = new Set([1, 2, 131000, 131016]);

export type Failure =
  | { kind: 'auth' | 'window' | 'pairRate' | 'throughput' | 'transient' | 'refused'; status: number; code?: number; message: string; details?: string }
  | { kind: 'notSent' | 'unknown'; detail: string };

export function classify(err: unknown): Failure {
  if (err instanceof GraphError) {
    const base = { status: err.status, message: err.metaMessage, ...(err.code !== undefined ? { code: err.code } : {}), ...(err.details ? { details: err.details } : {}) };
    const c = err.code;
    if (c === 190 || (c === undefined && err.status === 401)) return { kind: 'auth', ...base };
    if (c === WINDOW_CLOSED) return { kind: 'window', ...base };
    if (c === PAIR_RATE) return { kind: 'pairRate', ...base };
    if (c !== undefined && THROUGHPUT.has(c)) return { kind: 'throughput', ...base };
    if (c !== undefined && (err.transient || TRANSIENT.has(c))) return { kind: 'transient', ...base };
    if (c === undefined && err.status >= 500) return { kind: 'unknown', detail: err.metaMessage };
    return { kind: 'refused', ...base };
  }
  const name = textField(err, 'name') ?? '';
  if (name === 'AbortError' || name === 'TimeoutError') return { kind: 'unknown', detail: 'timeout' };
  const cause = causeCode(err);
  if (cause && NOT_CONNECTED.has(cause)) return { kind: 'notSent', detail: cause };
  if (cause) return { kind: 'unknown', detail: cause };
  return { kind: 'unknown', detail: errorText(err, 200) };
}

/** The reply could not go as free-form text: the 24-hour window is closed (and no template was sent). */
export class WindowClosedError extends Error {
  constructor(
    readonly detail: string,
    /** The template fallback's own failure, when one was tried. */
    readonly templateError?: string,
  ) {
    super(detail);
    this.name = 'WindowClosedError';
  }
}

/** Waiting out Meta's rate limits took longer than the operator allows. */
export class RateWaitError extends Error {
  constructor(
    readonly code: number,
    readonly waitedMs: number,
  ) {
    super(`rate limited (${code}) for ${Math.round(waitedMs / 1000)} s`);
    this.name = 'RateWaitError';
  }
}

function describeUnsafe(err: unknown, t: Translate): string {
  if (err instanceof Stopped) return t('whatsapp-out.errors.stopped');
  if (err instanceof UncertainError) return t('whatsapp-out.errors.uncertain', { what: err.what, detail: redact(err.detail) });
  if (err instanceof WindowClosedError) {
    return err.templateError ? t('whatsapp-out.errors.windowTemplateFailed', { message: redact(err.templateError) }) : t('whatsapp-out.errors.window');
  }
  if (err instanceof RateWaitError) return t('whatsapp-out.errors.rateWait', { code: err.code, seconds: Math.round(err.waitedMs / 1000) });
  const f = classify(err);
  switch (f.kind) {
    case 'auth':
      return t('whatsapp-out.errors.unauthorized');
    case 'window':
      return t('whatsapp-out.errors.window');
    case 'pairRate':
    case 'throughput':
    case 'transient':
    case 'refused':
      return t('whatsapp-out.errors.refused', { code: f.code ?? f.status, message: redact(f.details ? `${f.message}: ${f.details}` : f.message) });
    case 'notSent':
      return t('whatsapp-out.errors.network', { message: f.detail });
    case 'unknown':
      return redact(errorText(err));
  }
}

/** A translated, token-free error for what remains after the sender's own retries. Never throws. */
export function describeSendError(err: unknown, t: Translate = keyOnly): Error {
  return describeSafely(err, (e) => describeUnsafe(e, t));
}
