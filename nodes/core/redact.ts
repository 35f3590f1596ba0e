/**
 * The one redactor: every text that may reach a status, a log line, a Catch node or an admin API
 * answer goes through `redact`. Secrets are removed by VALUE — each node registers the secrets of
 * its credentials while it runs — so a token of an unusual shape, a webhook's shared secret or an
 * API key is removed wherever it turns up (a request URL in a network error, an echoed header),
 * and by SHAPE for the tokens whose form is known even when no node holds them (a token pasted into
 * another node's field). Registered values are kept per owner so a redeploy removes the old ones.
 */

import { errorText } from './error-text';

export const REDACTED = '***';

/** Shorter values would redact ordinary words; no platform issues secrets this short. */
const MIN_SECRET_LENGTH = 6;

/** Token shapes removed even when nobody registered them. */
const SHAPES: Array<[RegExp, string]> = [
  // Telegram bot tokens, alone or in an API path (`/bot<token>/sendMessage`).
  // No \b before the digits: in `/bot123:AA…` a letter touches them.
  [/(?<!\d)\d{5,}:[A-Za-z0-9_-]{20,}/g, '<token>'],
  // Slack bot, user, app and config tokens.
  [/\bxox[abposr]-[A-Za-z0-9-]{10,}\b/g, REDACTED],
  [/\bxapp-[A-Za-z0-9-]{10,}\b/g, REDACTED],
  // Discord bot tokens: the bot's id in base64, a timestamp and an HMAC, dot-separated.
  [/(?<![A-Za-z0-9_.-])[A-Za-z0-9_-]{23,28}\.[A-Za-z0-9_-]{6,7}\.[A-Za-z0-9_-]{27,40}(?![A-Za-z0-9_-])/g, REDACTED],
  // Discord interaction and webhook tokens in a request path (`/webhooks/<app id>/<token>/...`).
  [/(\/(?:webhooks|interactions)\/\d{5,}\/)[A-Za-z0-9_.-]{20,}/g, `$1${REDACTED}`],
  // Meta (WhatsApp Cloud API) access tokens: `EAA` and a long run of letters and digits.
  [/\bEAA[A-Za-z0-9]{30,}\b/g, REDACTED],
  // Credentials in an Authorization header or a URL's user info.
  [/\b(Bearer|Bot|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/g, `$1 ${REDACTED}`],
  [/(\/\/[^/\s:@]+:)[^/\s@]+@/g, `$1${REDACTED}@`],
];

function forms(secret: string): string[] {
  const out = new Set([secret]);
  try {
    out.add(encodeURIComponent(secret));
  } catch {
    // a lone surrogate cannot be URI-encoded; the plain form is still removed
  }
  return [...out];
}

function stringOf(value: unknown): string {
  try {
    return String(value);
  } catch {
    return '';
  }
}

export class SecretRegistry {
  private readonly byOwner = new Map<string, string[]>();
  private all: string[] = [];

  /** Replaces the secrets registered by `owner` (a node id) with `values`. */
  set(owner: string, values: ReadonlyArray<unknown>): void {
    const kept = values.filter((v): v is string => typeof v === 'string' && v.trim().length >= MIN_SECRET_LENGTH).map((v) => v.trim());
    if (kept.length) this.byOwner.set(owner, kept.flatMap(forms));
    else this.byOwner.delete(owner);
    this.rebuild();
  }

  delete(owner: string): void {
    if (this.byOwner.delete(owner)) this.rebuild();
  }

  get size(): number {
    return this.all.length;
  }

  /** `text` with every registered secret, every `extra` one and every known token shape removed. */
  redact(text: unknown, extra: ReadonlyArray<string | undefined> = []): string {
    let out = typeof text === 'string' ? text : stringOf(text);
    const more = extra.filter((v): v is string => typeof v === 'string' && v.length >= 4).flatMap(forms);
    for (const secret of more.length ? [...more, ...this.all].sort((a, b) => b.length - a.length) : this.all) {
      if (out.includes(secret)) out = out.split(secret).join(REDACTED);
    }
    for (const [shape, replacement] of SHAPES) out = out.replace(shape, replacement);
    return out;
  }

  private rebuild(): void {
    // Longest first, so a secret that contains another is removed whole.
    this.all = [...new Set([...this.byOwner.values()].flat())].sort((a, b) => b.length - a.length);
  }
}

/** The process-wide registry every node shares (one Node-RED runtime per process). */
export const secrets = new SecretRegistry();

export function redact(text: unknown, extra: ReadonlyArray<string | undefined> = []): string {
  return secrets.redact(text, extra);
}

/**
 * An Error safe to show anywhere (status, log, Catch node): its text from `errorText` (never
 * throws, whatever was rejected), with every secret removed. The original is not passed on, since
 * its message, cause or stack may hold a token.
 */
export function safeError(err: unknown, extra: ReadonlyArray<string | undefined> = []): Error {
  const e = new Error(redact(errorText(err), extra));
  const name = err instanceof Error ? err.name : undefined;
  if (name && name !== 'Error') e.name = name;
  return e;
}

/**
 * `describe(err)` as an Error whose message is secret-free, and never a throw: a platform's
 * describer reads fields of error bodies it does not control; if it trips, the plain text of the
 * error is said instead.
 */
export function describeSafely(err: unknown, describe: (err: unknown) => string): Error {
  let message: string;
  try {
    message = redact(describe(err));
  } catch {
    message = redact(errorText(err));
  }
  return new Error(message || 'unknown error');
}
