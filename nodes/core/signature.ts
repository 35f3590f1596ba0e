/**
 * Request signatures shared by every HTTP channel: `sha256=<hex HMAC-SHA256 of the raw body>` and
 * bearer tokens. Comparisons are constant-time, so a caller cannot learn a secret byte by byte from
 * response timings.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_PREFIX = 'sha256=';

/** The signature header value for `body`: `sha256=` and the hex HMAC-SHA256 under `secret`. */
export function signBody(secret: string, body: Buffer | string): string {
  return SIGNATURE_PREFIX + createHmac('sha256', secret).update(body).digest('hex');
}

/** Equal strings, compared in constant time whatever their lengths (both sides are hashed first). */
export function safeEqual(a: string, b: string): boolean {
  const da = createHash('sha256').update(a, 'utf8').digest();
  const db = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(da, db) && a.length === b.length;
}

/**
 * Whether `header` is the signature of the raw `body` under `secret`. An empty secret never
 * verifies: a node with signatures switched on but no secret set must refuse everything.
 */
export function verifySignature(secret: string | undefined, body: Buffer | string, header: string | string[] | undefined): boolean {
  if (!secret || typeof header !== 'string') return false;
  const given = header.trim();
  if (!given.toLowerCase().startsWith(SIGNATURE_PREFIX)) return false;
  const expected = signBody(secret, body);
  // Hex digests are case-insensitive; normalise so `sha256=ABC...` from some clients still matches.
  return safeEqual(SIGNATURE_PREFIX + given.slice(SIGNATURE_PREFIX.length).toLowerCase(), expected);
}

/** Whether an `Authorization: Bearer <token>` header carries `token`. An empty token never matches. */
export function verifyBearer(token: string | undefined, authorization: string | string[] | undefined): boolean {
  if (!token || typeof authorization !== 'string') return false;
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
  if (!m) return false;
  return safeEqual(m[1], token);
}
