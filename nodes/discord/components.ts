/**
 * Buttons as Discord message components: each row of `msg.buttons` (kit/buttons.ts) becomes an
 * action row (at most 5 rows of 5 buttons); a `{ text, data }` button carries `data` as its
 * custom_id (at most 100 characters; a press comes back through the discord in node with it as the
 * payload), a `{ text, url }` button is a link button. Labels hold 80 characters. Discord refuses
 * a message whose buttons share a custom_id, so that is refused here with the field named.
 */
import type { Result } from '../core/envelope';
import { readButtonRows } from '../core/kit/buttons';

export interface ButtonComponent {
  type: 2;
  style: 1 | 5;
  label: string;
  custom_id?: string;
  url?: string;
}

export interface ActionRow {
  type: 1;
  components: ButtonComponent[];
}

const PRIMARY = 1;
const LINK = 5;

export function readComponents(value: unknown): Result<ActionRow[] | undefined> {
  const rows = readButtonRows(value, {
    platform: 'Discord',
    maxTextChars: 80,
    // custom_id holds 100 characters; counted in bytes here, the stricter for text outside ASCII.
    maxDataBytes: 100,
    url: /^(https?|discord):\/\/\S+$/i,
    urlHint: 'an http(s):// or discord:// URL',
    maxRows: 5,
    maxPerRow: 5,
  });
  if (!rows.ok || !rows.value) return rows as Result<undefined>;
  const ids = rows.value.flat().flatMap((b) => ('data' in b ? [b.data] : []));
  const twice = ids.find((id, i) => ids.indexOf(id) !== i);
  if (twice !== undefined) return { ok: false, error: `msg.buttons: two buttons carry the data ${JSON.stringify(twice)}; Discord needs each button's data to be different within a message` };
  return {
    ok: true,
    value: rows.value.map((row) => ({
      type: 1 as const,
      components: row.map((b): ButtonComponent => ('data' in b ? { type: 2, style: PRIMARY, label: b.text, custom_id: b.data } : { type: 2, style: LINK, label: b.text, url: b.url })),
    })),
  };
}
