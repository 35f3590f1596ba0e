/**
 * Turns what grammy throws into one sentence an operator can act on, with the bot token removed:
 * grammy keeps it out of its own messages, but a network error's cause may carry the request URL
 * (`/bot<token>/sendMessage`), and these sentences reach the status, the log and Catch nodes.
 *
 * Called from rejection handlers, so it must not throw on any value: a Bot API server or proxy may
 * answer with a body that lacks `description` (grammy then builds a GrammyError whose description
 * is undefined), and a rejection need not be an Error at all. Every field is read defensively.
 */
import { GrammyError, HttpError } from 'grammy';
import { errorText, field, numberField, textField } from '../core/error-text';
import { describeSafely, redact } from '../core/redact';
import type { Translate } from './address';

/** Removes bot tokens (and every registered secret) from text that may carry a request URL. */
export function scrubToken(text: unknown): string {
  return redact(typeof text === 'string' ? text : errorText(text));
}

function describeUnsafe(err: unknown, t: Translate): string {
  if (err instanceof GrammyError) {
    const code = numberField(err, 'error_code');
    const given = textField(err, 'description');
    // A body that is not the Bot API's error shape (a proxy's `{"message": ...}`): grammy kept
    // neither code nor description, so say which call failed and that the answer was unexpected.
    if (!given && code === undefined) return t('telegram-out.errors.unexpected', { method: scrubToken(textField(err, 'method') ?? '?') });
    const description = scrubToken(given ?? '');
    const retryAfter = numberField(field(err, 'parameters'), 'retry_after');
    if (code === 401) return t('telegram-out.errors.unauthorized');
    if (code === 429) return t('telegram-out.errors.rateLimited', { seconds: retryAfter ?? '?' });
    if (code === 403) return t('telegram-out.errors.forbidden', { description });
    return t('telegram-out.errors.refused', { code: code ?? '?', description });
  }
  if (err instanceof HttpError) return t('telegram-out.errors.network', { message: scrubToken(errorText(field(err, 'error') ?? err)) });
  return scrubToken(errorText(err));
}

/** A translated, token-free error for what remains after the bot's own retries. Never throws. */
export function describeSendError(err: unknown, t: Translate): Error {
  return describeSafely(err, (e) => describeUnsafe(e, t));
}
