/**
 * Turns what grammy throws into one sentence an operator can act on, with the bot token removed:
 * grammy keeps it out of its own messages, but a network error's cause may carry the request URL
 * (`/bot<token>/sendMessage`), and these sentences reach the status, the log and Catch nodes.
 */
import { GrammyError, HttpError } from 'grammy';
import type { Translate } from './address';

/** A bot token as BotFather issues it (`123456:AA...`), alone or inside an API path. */
const TOKEN = /\b\d{5,}:[A-Za-z0-9_-]{20,}\b/g;

export function scrubToken(text: string): string {
  return text.replace(TOKEN, '<token>');
}

/** A translated, token-free error for what remains after the bot's own retries. */
export function describeSendError(err: unknown, t: Translate): Error {
  let message: string;
  if (err instanceof GrammyError) {
    const description = scrubToken(err.description);
    if (err.error_code === 401) message = t('telegram-out.errors.unauthorized');
    else if (err.error_code === 429) message = t('telegram-out.errors.rateLimited', { seconds: err.parameters.retry_after ?? '?' });
    else if (err.error_code === 403) message = t('telegram-out.errors.forbidden', { description });
    else message = t('telegram-out.errors.refused', { code: err.error_code, description });
  } else if (err instanceof HttpError) {
    const cause = err.error instanceof Error ? err.error.message : String(err.error);
    message = t('telegram-out.errors.network', { message: scrubToken(cause) });
  } else {
    message = scrubToken(err instanceof Error ? err.message : String(err));
  }
  return new Error(message);
}
