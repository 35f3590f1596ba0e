/**
 * One sentence from anything a promise can reject with, without ever throwing. Errors reach the
 * status, the log and Catch nodes from rejection handlers; a formatter that throws there (an error
 * body without `description`, a non-Error rejection, a getter that throws, a circular object) turns
 * a cosmetic failure into an unhandled rejection, which exits Node-RED. So every read here is guarded.
 */

export const MAX_ERROR_TEXT = 500;

/** A property of `value`, or undefined when there is none or reading it throws. */
export function field(value: unknown, name: string): unknown {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return undefined;
  try {
    return (value as Record<string, unknown>)[name];
  } catch {
    return undefined;
  }
}

/** `field` as a non-empty string, or undefined. */
export function textField(value: unknown, name: string): string | undefined {
  const v = field(value, name);
  return typeof v === 'string' && v.trim() ? v : undefined;
}

/** `field` as a finite number, or undefined. */
export function numberField(value: unknown, name: string): number | undefined {
  const v = field(value, name);
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/** JSON without throwing: circular references, BigInt and toJSON that throw all end as a short mark. */
export function safeJson(value: unknown): string {
  const seen = new WeakSet<object>();
  try {
    const text = JSON.stringify(value, (_key, v: unknown) => {
      if (typeof v === 'bigint') return `${v}n`;
      if (typeof v === 'object' && v !== null) {
        if (seen.has(v)) return '[circular]';
        seen.add(v);
      }
      return v;
    });
    return typeof text === 'string' ? text : String(text);
  } catch {
    return '[unprintable]';
  }
}

function describe(err: unknown, depth: number): string {
  if (err === undefined) return 'unknown error';
  if (err === null) return 'null';
  if (typeof err === 'string') return err || 'unknown error';
  if (typeof err === 'number' || typeof err === 'boolean' || typeof err === 'bigint') return String(err);
  if (typeof err === 'symbol') return err.description ?? 'symbol';
  // Platform error bodies put the sentence in different fields: Telegram `description`, most
  // others `message`, some `error` (a string or a nested object), OAuth `error_description`.
  const own = textField(err, 'description') ?? textField(err, 'message') ?? textField(err, 'error_description');
  if (own) {
    const cause = depth < 2 ? field(err, 'cause') : undefined;
    const causeText = cause !== undefined && cause !== err ? describe(cause, depth + 1) : '';
    return causeText && !own.includes(causeText) ? `${own} (${causeText})` : own;
  }
  const inner = field(err, 'error');
  if (inner !== undefined && inner !== err && depth < 2) return describe(inner, depth + 1);
  if (typeof err === 'function') return 'unknown error';
  const json = safeJson(err);
  return json === '{}' ? 'unknown error' : json;
}

/** Shortens to `max` UTF-16 units without cutting a surrogate pair in half. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = Math.max(0, max - 1);
  const code = text.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end -= 1;
  return `${text.slice(0, end)}…`;
}

/** What went wrong, in one line of at most `max` characters. Never throws. */
export function errorText(err: unknown, max = MAX_ERROR_TEXT): string {
  let text: string;
  try {
    text = describe(err, 0);
  } catch {
    text = 'unknown error';
  }
  return truncate(text.replace(/\s+/g, ' ').trim() || 'unknown error', max);
}
