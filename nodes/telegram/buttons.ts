/**
 * Inline keyboards from `msg.buttons`: rows of `{ text, data }` (a callback the telegram in node
 * hears) or `{ text, url }`; a flat array means one button per row, the usual shape for a menu.
 */
import type { InlineKeyboardButton, InlineKeyboardMarkup } from 'grammy/types';
import { z } from 'zod';
import { describeIssues, type Result } from '../core/envelope';

/** Telegram refuses callback data over 64 bytes (UTF-8), and button text must not be empty. */
const MAX_DATA_BYTES = 64;

const ButtonSchema = z.union([
  z.object({
    text: z.string().min(1),
    data: z.string().min(1).refine((d) => Buffer.byteLength(d, 'utf8') <= MAX_DATA_BYTES, `at most ${MAX_DATA_BYTES} bytes`),
  }),
  z.object({
    text: z.string().min(1),
    url: z.string().regex(/^(https?|tg):\/\/\S+$/i, 'an http(s):// or tg:// URL'),
  }),
]);
type Button = z.infer<typeof ButtonSchema>;

const KeyboardSchema = z.union([z.array(z.array(ButtonSchema).min(1)).min(1), z.array(ButtonSchema).min(1)]);

function toTelegram(b: Button): InlineKeyboardButton {
  return 'data' in b ? { text: b.text, callback_data: b.data } : { text: b.text, url: b.url };
}

/** Reads `msg.buttons`; undefined when there are none, an error naming the field when malformed. */
export function readButtons(value: unknown): Result<InlineKeyboardMarkup | undefined> {
  if (value === undefined || value === null) return { ok: true, value: undefined };
  const parsed = KeyboardSchema.safeParse(value);
  if (!parsed.success) {
    const detail = describeIssues(parsed.error, 'msg.buttons');
    return { ok: false, error: `${detail} (expected rows of { text, data } or { text, url } buttons, or a flat array of them)` };
  }
  const rows = parsed.data.map((row) => (Array.isArray(row) ? row : [row]));
  return { ok: true, value: { inline_keyboard: rows.map((row) => row.map(toTelegram)) } };
}
