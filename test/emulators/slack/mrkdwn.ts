/**
 * Slack mrkdwn as the emulator checks it. Slack escapes only `&`, `<` and `>`; everything between
 * `<` and `>` is a control token (a link, a mention, a special mention). An agent's text that lets
 * a raw `<` or `&` through either shows garbage or, worse, turns into a live `<!channel>` that
 * pings everyone, so every text the bot posts is checked here and the findings are kept for the
 * test to assert on.
 */

export type MrkdwnProblem =
  /** A `<`, `>` or `&` that is not part of an entity or a valid `<...>` token. */
  | 'unescaped'
  /** A live `<!channel>`, `<!here>`, `<!everyone>` or `<!subteam^...>` (or `@here` with link_names). */
  | 'ping';

export interface MrkdwnFinding {
  problem: MrkdwnProblem;
  /** The offending token as it appears in the text (`<`, `&`, `<!here>`, `<foo bar>`...). */
  token: string;
  /** Character offset in the checked text. */
  index: number;
}

export interface MrkdwnCheckOptions {
  /**
   * `link_names=true` or `parse=full` on the call: Slack then turns a plain `@here`, `@channel`,
   * `@everyone` into a live special mention too.
   */
  linkNames?: boolean;
  /**
   * Standard Markdown (`markdown_text`, a `markdown` block, stream chunks): `<` and `&` are plain
   * characters there, so only the pings are checked.
   */
  markdown?: boolean;
}

const ENTITY = /^&(amp|lt|gt);/;
const PINGS = new Set(['channel', 'here', 'everyone', 'group']);

/** What a `<...>` token's inside is, or undefined when Slack would not read it as a token. */
function classifyToken(inner: string): 'link' | 'mention' | 'ping' | 'date' | undefined {
  const [target] = inner.split('|', 1);
  if (/^@[UWB][A-Z0-9]+$/.test(target)) return 'mention';
  if (/^#[CGD][A-Z0-9]+$/.test(target)) return 'mention';
  if (target.startsWith('!')) {
    const name = target.slice(1);
    if (PINGS.has(name) || /^subteam\^[A-Z0-9]+$/.test(name)) return 'ping';
    if (/^date\^\d+\^/.test(name)) return 'date';
    return undefined;
  }
  if (/^(https?:\/\/|mailto:)[^\s<>|]+$/.test(target)) return 'link';
  return undefined;
}

/** Every problem in one text. An empty list means Slack would show exactly what the author meant. */
export function checkMrkdwn(text: string, opts: MrkdwnCheckOptions = {}): MrkdwnFinding[] {
  const out: MrkdwnFinding[] = [];
  if (opts.linkNames) {
    const re = /(^|[^\w<!])@(here|channel|everyone)\b/g;
    for (let m = re.exec(text); m; m = re.exec(text)) out.push({ problem: 'ping', token: `@${m[2]}`, index: m.index + m[1].length });
  }
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    if (ch === '&' && !opts.markdown) {
      const m = ENTITY.exec(text.slice(i, i + 5));
      if (m) {
        i += m[0].length;
        continue;
      }
      out.push({ problem: 'unescaped', token: '&', index: i });
      i += 1;
      continue;
    }
    if (ch === '>' && !opts.markdown) {
      out.push({ problem: 'unescaped', token: '>', index: i });
      i += 1;
      continue;
    }
    if (ch === '<') {
      const end = text.indexOf('>', i + 1);
      const nextOpen = text.indexOf('<', i + 1);
      if (end < 0 || (nextOpen >= 0 && nextOpen < end)) {
        if (!opts.markdown) out.push({ problem: 'unescaped', token: '<', index: i });
        i += 1;
        continue;
      }
      const token = text.slice(i, end + 1);
      const kind = classifyToken(token.slice(1, -1));
      if (kind === 'ping') out.push({ problem: 'ping', token, index: i });
      else if (kind === undefined && !opts.markdown) out.push({ problem: 'unescaped', token, index: i });
      i = end + 1;
      continue;
    }
    i += 1;
  }
  return out.sort((a, b) => a.index - b.index);
}

export interface VisibleTextOptions {
  /** Display names for `<@U...>` mentions (shown as `@name`); unknown ids are shown as `@U...`. */
  users?: Record<string, string>;
  /** Names for `<#C...>` mentions without a label. */
  channels?: Record<string, string>;
}

/**
 * The text a user sees for a mrkdwn text: links shown as their label (or their address), mentions
 * as `@name` / `#channel`, special mentions as `@here`, entities decoded. Formatting characters
 * (`*bold*`, `_italic_`, backticks) are left in place.
 */
export function mrkdwnToText(text: string, opts: VisibleTextOptions = {}): string {
  const shown = text.replace(/<([^<>]*)>/g, (whole, inner: string) => {
    const bar = inner.indexOf('|');
    const target = bar < 0 ? inner : inner.slice(0, bar);
    const label = bar < 0 ? undefined : inner.slice(bar + 1);
    const kind = classifyToken(inner);
    if (kind === undefined) return whole;
    if (target.startsWith('@')) return label ? `@${label.replace(/^@/, '')}` : `@${opts.users?.[target.slice(1)] ?? target.slice(1)}`;
    if (target.startsWith('#')) return label ? `#${label.replace(/^#/, '')}` : `#${opts.channels?.[target.slice(1)] ?? target.slice(1)}`;
    if (target.startsWith('!')) {
      if (label) return label;
      const name = target.slice(1);
      return name.startsWith('subteam^') ? `@${name.slice('subteam^'.length)}` : name.startsWith('date^') ? (name.split('^')[2] ?? name) : `@${name}`;
    }
    if (label) return label;
    return target.startsWith('mailto:') ? target.slice('mailto:'.length) : target;
  });
  return shown.replace(/&(amp|lt|gt);/g, (_, name: string) => ({ amp: '&', lt: '<', gt: '>' })[name] ?? _);
}

/** Escapes a plain text for mrkdwn the way Slack asks (only `&`, `<`, `>`). */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A text field somewhere in a message, with whether Slack reads it as mrkdwn or standard Markdown. */
export interface TextField {
  /** Where the text was found: `text`, `blocks[0].text.text`, `chunks[1].text`, `attachments[0].text`... */
  field: string;
  text: string;
  markdown: boolean;
}

/** Every mrkdwn or markdown text inside Block Kit blocks (plain_text is left out: Slack shows it as is). */
export function blockTexts(blocks: unknown, prefix = 'blocks'): TextField[] {
  const out: TextField[] = [];
  const visit = (node: unknown, path: string): void => {
    if (Array.isArray(node)) {
      node.forEach((n, i) => visit(n, `${path}[${i}]`));
      return;
    }
    if (!node || typeof node !== 'object') return;
    const o = node as Record<string, unknown>;
    if (o.type === 'mrkdwn' && typeof o.text === 'string') out.push({ field: `${path}.text`, text: o.text, markdown: false });
    if (o.type === 'markdown' && typeof o.text === 'string') out.push({ field: `${path}.text`, text: o.text, markdown: true });
    for (const [k, v] of Object.entries(o)) if (v && typeof v === 'object') visit(v, `${path}.${k}`);
  };
  visit(blocks, prefix);
  return out;
}
