/**
 * Buttons from `msg.buttons`, the same shape on every platform: rows of `{ text, data }` (a press
 * comes back through the platform's in node with `data` as its payload) or `{ text, url }` (a
 * link); a flat array means one button per row, the usual shape for a menu. Each platform gives
 * its limits and turns the rows into its own markup.
 */
import { z } from 'zod';
import { describeIssues, type Result } from '../envelope';

export type Button = { text: string; data: string } | { text: string; url: string };

/** Longer button URLs are refused on every platform: a mistake, never a link. */
const MAX_URL_CHARS = 3000;

export interface ButtonRules {
  /** The platform's name, for the error text. */
  platform: string;
  /** What a press may carry back (Telegram's callback data holds 64 bytes). */
  maxDataBytes: number;
  /** The links a button may open (Telegram's `tg://` too). */
  url: RegExp;
  /** What `url` accepts, for the error text (`an http(s):// URL`). */
  urlHint: string;
  /** The limits a platform documents; one left out is the platform's to judge. */
  maxTextChars?: number;
  maxRows?: number;
  maxPerRow?: number;
}

export function readButtonRows(value: unknown, rules: ButtonRules): Result<Button[][] | undefined> {
  if (value === undefined || value === null) return { ok: true, value: undefined };
  const text = rules.maxTextChars === undefined ? z.string().min(1) : z.string().min(1).max(rules.maxTextChars);
  const button = z.union([
    z.object({ text, data: z.string().min(1).refine((d) => Buffer.byteLength(d, 'utf8') <= rules.maxDataBytes, `at most ${rules.maxDataBytes} bytes`) }),
    z.object({ text, url: z.string().max(MAX_URL_CHARS).regex(rules.url, rules.urlHint) }),
  ]);
  const rows = z.array(button).min(1);
  const schema = z.union([at(z.array(at(rows, rules.maxPerRow)).min(1), rules.maxRows), at(z.array(button).min(1), rules.maxRows)]);
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const detail = describeIssues(parsed.error, 'msg.buttons');
    const limits = rules.maxRows !== undefined && rules.maxPerRow !== undefined ? `; ${rules.platform} allows ${rules.maxRows} rows of ${rules.maxPerRow}` : '';
    return { ok: false, error: `${detail} (expected rows of { text, data } or { text, url } buttons, or a flat array of them${limits})` };
  }
  return { ok: true, value: parsed.data.map((row) => (Array.isArray(row) ? row : [row])) };
}

/** `list` with at most `max` items, or as it is when the platform names no limit. */
function at<T extends z.ZodType>(list: z.ZodArray<T>, max: number | undefined): z.ZodArray<T> {
  return max === undefined ? list : list.max(max);
}
