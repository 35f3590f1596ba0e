/**
 * A webhook in node's settings, read once from its editor definition and credentials, with the
 * problems an operator must fix (they show on the node's status; the node then fails closed).
 */
export type WebhookMode = 'sync' | 'async';
export type WebhookAuth = 'none' | 'bearer' | 'hmac';

export const DEFAULT_PATH = '/chatgate/webhook';
export const DEFAULT_SIGNATURE_HEADER = 'X-Chatgate-Signature';
export const DEFAULT_TIMEOUT_S = 30;
export const DEFAULT_MAX_BYTES = 1024 * 1024;

export interface WebhookInDef {
  id: string;
  name?: string;
  gateway?: string;
  path?: string;
  mode?: string;
  timeout?: number | string;
  callbackUrl?: string;
  auth?: string;
  signatureHeader?: string;
  maxBytes?: number | string;
}

export interface WebhookInCredentials {
  token?: string;
  secret?: string;
  callbackSecret?: string;
}

export interface WebhookSettings {
  path: string;
  mode: WebhookMode;
  timeoutMs: number;
  /** Undefined when not set or not a usable http(s) URL (then `problem` says why). */
  callbackUrl?: string;
  auth: WebhookAuth;
  signatureHeader: string;
  maxBytes: number;
  token?: string;
  secret?: string;
  callbackSecret?: string;
}

/** A configuration problem, as an i18n key under `webhook-in.errors`. */
export type SettingsProblem = 'noToken' | 'noSecret' | 'badCallbackUrl' | 'badSignatureHeader';

/** `chatgate/hook/` -> `/chatgate/hook`: the form Express matches and the key two nodes would clash on. */
export function normalisePath(path: string | undefined): string {
  let p = (path ?? '').trim() || DEFAULT_PATH;
  if (!p.startsWith('/')) p = `/${p}`;
  p = p.replace(/\/{2,}/g, '/');
  if (p.length > 1) p = p.replace(/\/$/, '');
  return p;
}

function positive(value: unknown, fallback: number): number {
  const n = Number(value);
  return Number.isFinite(n) && n > 0 ? n : fallback;
}

/** An http(s) URL without user:password (fetch refuses those, and they would be a secret in config). */
export function usableCallbackUrl(url: string | undefined): string | undefined {
  if (!url?.trim()) return undefined;
  try {
    const u = new URL(url.trim());
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return undefined;
    if (u.username || u.password) return undefined;
    return u.toString();
  } catch {
    return undefined;
  }
}

const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;

export function readSettings(def: WebhookInDef, creds: WebhookInCredentials = {}): { settings: WebhookSettings; problems: SettingsProblem[] } {
  const problems: SettingsProblem[] = [];
  const auth: WebhookAuth = def.auth === 'bearer' || def.auth === 'hmac' ? def.auth : 'none';
  let signatureHeader = (def.signatureHeader ?? '').trim() || DEFAULT_SIGNATURE_HEADER;
  if (!HEADER_NAME.test(signatureHeader)) {
    problems.push('badSignatureHeader');
    signatureHeader = DEFAULT_SIGNATURE_HEADER;
  }
  const callbackUrl = usableCallbackUrl(def.callbackUrl);
  if (def.callbackUrl?.trim() && !callbackUrl) problems.push('badCallbackUrl');
  if (auth === 'bearer' && !creds.token) problems.push('noToken');
  if (auth === 'hmac' && !creds.secret) problems.push('noSecret');
  return {
    settings: {
      path: normalisePath(def.path),
      mode: def.mode === 'async' ? 'async' : 'sync',
      // setTimeout fires at once past 2^31-1 ms; nobody waits 24 days for a reply anyway.
      timeoutMs: Math.min(positive(def.timeout, DEFAULT_TIMEOUT_S) * 1000, 2 ** 31 - 1),
      callbackUrl,
      auth,
      signatureHeader,
      maxBytes: Math.floor(positive(def.maxBytes, DEFAULT_MAX_BYTES)),
      token: creds.token || undefined,
      secret: creds.secret || undefined,
      callbackSecret: creds.callbackSecret || undefined,
    },
    problems,
  };
}
