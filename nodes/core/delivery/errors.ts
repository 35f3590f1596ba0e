/**
 * Reading platform errors without importing the SDK: grammy's GrammyError carries Telegram's
 * `error_code`, `description` and `parameters`; plain Bot API JSON carries the same fields.
 */

interface TelegramErrorShape {
  error_code?: unknown;
  description?: unknown;
  message?: unknown;
  parameters?: { retry_after?: unknown };
}

function shape(error: unknown): TelegramErrorShape {
  return typeof error === 'object' && error !== null ? (error as TelegramErrorShape) : {};
}

/** How long Telegram asked us to wait (429 `parameters.retry_after`, in seconds), in ms; else undefined. */
export function retryAfterMs(error: unknown): number | undefined {
  const e = shape(error);
  const seconds = e.parameters?.retry_after;
  if (typeof seconds === 'number' && Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  // Some proxies only keep the description ("Too Many Requests: retry after 7").
  const text = typeof e.description === 'string' ? e.description : typeof e.message === 'string' ? e.message : '';
  const match = /retry after (\d+)/i.exec(text);
  return match ? Number(match[1]) * 1000 : undefined;
}

/** Telegram refuses an edit that changes nothing; for a stream that is success, not failure. */
export function isNotModified(error: unknown): boolean {
  const e = shape(error);
  const text = `${typeof e.description === 'string' ? e.description : ''} ${typeof e.message === 'string' ? e.message : ''}`;
  return /message is not modified/i.test(text);
}

/** Telegram refused the formatting ("can't parse entities"): resend the part as plain text. */
export function isEntityError(error: unknown): boolean {
  const e = shape(error);
  const text = `${typeof e.description === 'string' ? e.description : ''} ${typeof e.message === 'string' ? e.message : ''}`;
  return /can't parse entities|can't find end of the entity|unsupported start tag|unclosed start tag|can't find end tag/i.test(text) && !/not modified/i.test(text);
}
