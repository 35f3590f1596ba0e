/**
 * Buttons from `msg.buttons` (the kit's shape, kit/buttons.ts) as WhatsApp interactive messages:
 * up to three `{ text, data }` buttons with titles of 20 characters become reply buttons; more (up
 * to ten), or longer titles (up to 24), become a list behind one button. A press comes back through
 * the in node with `data` as its payload. `{ text, url }` buttons have no interactive form beside
 * reply buttons, so they are written under the text as "text: url" lines (WhatsApp links URLs).
 */
import type { Result } from '../core/envelope';
import { readButtonRows } from '../core/kit/buttons';

export const MAX_REPLY_BUTTONS = 3;
export const MAX_LIST_ROWS = 10;
const BUTTON_TITLE = 20;
const ROW_TITLE = 24;
/** An interactive message's body holds 1,024 characters. */
export const INTERACTIVE_BODY_MAX = 1024;

export interface Choices {
  replies: Array<{ id: string; title: string }>;
  links: Array<{ text: string; url: string }>;
}

export function readChoices(value: unknown): Result<Choices | undefined> {
  const rows = readButtonRows(value, { platform: 'WhatsApp', maxTextChars: ROW_TITLE, maxDataBytes: 200, url: /^https?:\/\/\S+$/i, urlHint: 'an http(s):// URL' });
  if (!rows.ok || !rows.value) return rows as Result<undefined>;
  const replies: Choices['replies'] = [];
  const links: Choices['links'] = [];
  for (const b of rows.value.flat()) {
    if ('data' in b) replies.push({ id: b.data, title: b.text });
    else links.push({ text: b.text, url: b.url });
  }
  if (replies.length > MAX_LIST_ROWS) return { ok: false, error: `msg.buttons: ${replies.length} buttons; WhatsApp shows at most ${MAX_LIST_ROWS} choices (3 as buttons, 10 in a list)` };
  if (new Set(replies.map((r) => r.id)).size !== replies.length) return { ok: false, error: 'msg.buttons: two buttons carry the same data; WhatsApp needs a different id for each' };
  return { ok: true, value: { replies, links } };
}

/** The `interactive` object of a message with `body` above the choices. */
export function interactiveOf(body: string, replies: Choices['replies'], listButton: string): Record<string, unknown> {
  const asButtons = replies.length <= MAX_REPLY_BUTTONS && replies.every((r) => [...r.title].length <= BUTTON_TITLE);
  if (asButtons) return { type: 'button', body: { text: body }, action: { buttons: replies.map((r) => ({ type: 'reply', reply: { id: r.id, title: r.title } })) } };
  return { type: 'list', body: { text: body }, action: { button: [...listButton].slice(0, BUTTON_TITLE).join(''), sections: [{ rows: replies.map((r) => ({ id: r.id, title: r.title })) }] } };
}
