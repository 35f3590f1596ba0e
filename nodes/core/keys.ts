import { createHash } from 'node:crypto';

/** Keys longer than this are replaced by their hash, so a hostile id cannot bloat memory or the store. */
export const MAX_KEY_LENGTH = 256;

/**
 * Joins key parts unambiguously (each part is URI-encoded, so a ':' inside an id cannot forge
 * another key). Keys live in Map objects only, so `__proto__` or `constructor` are plain strings.
 */
export function composeKey(parts: readonly string[]): string {
  const key = parts.map((p) => encodeURIComponent(p)).join(':');
  if (key.length <= MAX_KEY_LENGTH) return key;
  return 'sha256:' + createHash('sha256').update(key).digest('hex');
}
