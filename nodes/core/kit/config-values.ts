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

/** A duration typed in seconds (the editor's Advanced fields), as milliseconds within [minSeconds, maxSeconds]. */
export function secondsAsMs(v: unknown, fallbackMs: number, minSeconds: number, maxSeconds: number): number {
  return boundedNumber(v, fallbackMs / 1000, minSeconds, maxSeconds) * 1000;
}

/** The backoff of a connection's retries: the first pause and the longest, in ms; the longest is never below the first. */
export function backoffRange(retryMin: unknown, retryMax: unknown, defaults: { backoffMinMs: number; backoffMaxMs: number }): { backoffMinMs: number; backoffMaxMs: number } {
  const backoffMinMs = secondsAsMs(retryMin, defaults.backoffMinMs, 0.05, 600);
  return { backoffMinMs, backoffMaxMs: Math.max(backoffMinMs, secondsAsMs(retryMax, defaults.backoffMaxMs, 0.05, 3600)) };
}

/** A checkbox as the editor saves it (a boolean, or a string from an old flow). */
export function isOn(v: unknown): boolean {
  return v === true || v === 'true';
}

/** A checkbox that is on unless unticked. */
export function isOff(v: unknown): boolean {
  return v === false || v === 'false';
}

/** A download limit typed in MB, as bytes up to the platform's own limit; `fallbackMb` when empty or not positive. */
export function downloadLimitBytes(mbValue: unknown, platformMaxBytes: number, fallbackMb = 5): number {
  const mb = Number(mbValue);
  if (!Number.isFinite(mb) || mb <= 0 || (typeof mbValue === 'string' && mbValue.trim() === '')) return Math.min(fallbackMb * 1024 * 1024, platformMaxBytes);
  return Math.min(Math.round(mb * 1024 * 1024), platformMaxBytes);
}
