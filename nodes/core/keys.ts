import { createHash } from 'node:crypto';

/** Keys longer than this are replaced by their hash, so a hostile id cannot bloat memory or the store. */
export const MAX_KEY_LENGTH = 256;

/** A part is kept as it is unless it holds the separator or the escape character. */
function part(p: string): string {
  return p.indexOf('|') === -1 && p.indexOf('%') === -1 ? p : encodeURIComponent(p);
}

/**
 * Joins key parts unambiguously and cheaply (this runs on every inbound message): parts are joined
 * by '|', and only a part holding '|' or '%' is URI-encoded, so a raw part never contains '%' and an
 * encoded one always does — `a|b` + `c` can never equal `a` + `b|c`. Keys live in Map objects only,
 * so `__proto__` or `constructor` are plain strings.
 */
export function composeKey(parts: readonly string[]): string {
  // join() yields one flat string; concatenation would leave a rope that costs memory per thread.
  const key = parts.map(part).join('|');
  if (key.length <= MAX_KEY_LENGTH) return key;
  return 'sha256:' + createHash('sha256').update(key).digest('hex');
}
