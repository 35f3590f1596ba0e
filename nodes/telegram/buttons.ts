/**
 * Inline keyboards from `msg.buttons` (the kit's shape, kit/buttons.ts) with Telegram's limits:
 * callback data of at most 64 bytes (UTF-8), links that are http(s):// or tg://. A `{ text, data }`
 * button is a callback the telegram in node hears.
 */
import type { InlineKeyboardButton, InlineKeyboardMarkup } from 'grammy/types';
import type { Result } from '../core/envelope';
import { readButtonRows, type Button } from '../core/kit/buttons';

function toTelegram(b: Button): InlineKeyboardButton {
  return 'data' in b ? { text: b.text, callback_data: b.data } : { text: b.text, url: b.url };
}

/** Reads `msg.buttons`; undefined when there are none, an error naming the field when malformed. */
export function readButtons(value: unknown): Result<InlineKeyboardMarkup | undefined> {
  const rows = readButtonRows(value, { platform: 'Telegram', maxDataBytes: 64, url: /^(https?|tg):\/\/\S+$/i, urlHint: 'an http(s):// or tg:// URL' });
  if (!rows.ok || !rows.value) return rows as Result<undefined>;
  return { ok: true, value: { inline_keyboard: rows.value.map((row) => row.map(toTelegram)) } };
}
