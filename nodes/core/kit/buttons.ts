/**
 * Buttons from `msg.buttons`, the same shape on every platform: rows of `{ text, data }` (a press
 * comes back through the platform's in node with `data` as its payload) or `{ text, url }` (a
 * link); a flat array means one button per row, the usual shape for a menu. Each platform gives
 * its limits and turns the rows into its own markup. New for Slack; Telegram's buttons.ts reads
 * the same shape with its own copy and can move onto this.
 */
import { z } from 'zod';
import { describeIssues, type Result } from '../envelope';

export type Button = { text: string; data: string } | { text: string; url: string };

export interface ButtonRules {
  /** The platform's name, for the error text. */
  platform: string;
  maxTextChars: number;
  maxDataBytes: number;
  url: RegExp;
  /** What `url` accepts, for the error text (`an http(s):// URL`). */
  urlHint: string;
  maxRows: number;
  maxPerRow: number;
}

export function readButtonRows(value: unknown, rules: ButtonRules): Result<Button[][] | undefined> {
  if (value === undefined || value === null) return { ok: true, value: undefined };
  const text = z.string().min(1).max(rules.maxTextChars);
  const button = z.union([
    z.object({ text, data: z.string().min(1).refine((d) => Buffer.byteLength(d, 'utf8') <= rules.maxDataBytes, `at most ${rules.maxDataBytes} bytes`) }),
    z.object({ text, url: z.string().max(3000).regex(rules.url, rules.urlHint) }),
  ]);
  const schema = z.union([z.array(z.array(button).min(1).max(rules.maxPerRow)).min(1).max(rules.maxRows), z.array(button).min(1).max(rules.maxRows)]);
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const detail = describeIssues(parsed.error, 'msg.buttons');
    return { ok: false, error: `${detail} (expected rows of { text, data } or { text, url } buttons, or a flat array of them; ${rules.platform} allows ${rules.maxRows} rows of ${rules.maxPerRow})` };
  }
  return { ok: true, value: parsed.data.map((row) => (Array.isArray(row) ? row : [row])) };
}
