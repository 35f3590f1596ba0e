/**
 * Buttons as Block Kit: each row of `msg.buttons` (kit/buttons.ts) becomes an `actions` block of
 * buttons; a `{ text, data }` button carries `data` as its value (a press comes back through the
 * slack in node with it as the payload), a `{ text, url }` button opens the link. A message with
 * blocks shows the blocks, not its `text`, so the reply's text goes in a section block above them
 * (`text` stays as the notification and screen-reader fallback).
 */
import type { Result } from '../core/envelope';
import { readButtonRows } from '../core/kit/buttons';

/** A section block holds 3,000 characters of mrkdwn; text beside buttons is split to fit one. */
export const SECTION_MAX = 3000;

export type Block = Record<string, unknown>;

export function readButtons(value: unknown): Result<Block[] | undefined> {
  const rows = readButtonRows(value, {
    platform: 'Slack',
    maxTextChars: 75,
    maxDataBytes: 2000,
    url: /^https?:\/\/\S+$/i,
    urlHint: 'an http(s):// URL',
    maxRows: 20,
    maxPerRow: 25,
  });
  if (!rows.ok || !rows.value) return rows as Result<undefined>;
  let n = 0;
  const blocks = rows.value.map((row) => ({
    type: 'actions',
    elements: row.map((b) => {
      n += 1;
      const base = { type: 'button', text: { type: 'plain_text', text: b.text, emoji: true }, action_id: `chatgate_${n}` };
      return 'data' in b ? { ...base, value: b.data } : { ...base, url: b.url };
    }),
  }));
  return { ok: true, value: blocks };
}

/** The blocks of a message that carries buttons: its text as a section, then the buttons. */
export function withText(text: string, buttons: Block[]): Block[] {
  return text ? [{ type: 'section', text: { type: 'mrkdwn', text } }, ...buttons] : buttons;
}
