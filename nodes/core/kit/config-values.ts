/**
 * Reading a platform config node's editor values, the same for every platform: a number of
 * seconds (typed in, or a string from an old flow) bounded to a range, a route on Node-RED's HTTP
 * server, and an API base URL without trailing slash.
 */

/** `v` as a number within [min, max]; `fallback` when it is empty or not a number. */
export function boundedNumber(v: unknown, fallback: number, min: number, max: number): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  if (!Number.isFinite(n)) return fallback;
  return Math.min(max, Math.max(min, n));
}

/** A path on Node-RED's HTTP server: one leading slash, no trailing one; empty = `<prefix>/<node id>`. */
export function routePath(path: string | undefined, prefix: string, nodeId: string): string {
  const p = (path ?? '').trim() || `${prefix}/${nodeId.replace(/[^A-Za-z0-9_.-]/g, '_')}`;
  return `/${p.replace(/^\/+/, '').replace(/\/+$/, '')}`;
}

/** An API base URL without trailing slashes; undefined when empty (the platform's own API). */
export function baseUrl(url: string | undefined): string | undefined {
  const r = (url ?? '').trim().replace(/\/+$/, '');
  return r === '' ? undefined : r;
}
