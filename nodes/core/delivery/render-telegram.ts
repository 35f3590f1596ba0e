/**
 * Telegram HTML (parse_mode 'HTML'): only the tags Telegram accepts, nested the way its entity rules
 * allow, with `& < >` escaped in text and `"` too in attributes. Length is measured as Telegram does:
 * on the visible text after entity parsing, in UTF-16 code units, so markup costs nothing and the
 * splitter can add up run lengths (the additive measure) instead of serialising candidate parts.
 *
 * Entity limits, per message:
 * - at most 100 entities: Telegram keeps the formatting of the first 100 and silently drops the rest
 *   (rubenlagus/TelegramBots#854; "a single message can only support up to 100 entities");
 * - and their total size: a message whose entities take too much room is refused with "Bad Request:
 *   ENTITIES_TOO_LONG", at about 9500 characters of entity markup for a text of 500 (Telegram's
 *   Bot API maintainer in tdlib/telegram-bot-api#165: "a good approximation of the current limit on
 *   the total message entities size"). An entity's size here is its own markup, the tag pair as
 *   sent (`<a href="...">` + `</a>`: the URL dominates), capped at 8192 characters per message,
 *   below that estimate. Each b/i/s/u/code/a/blockquote element is one entity, nested ones each
 *   count, and `<pre><code class="language-x">` is one (a pre with a language).
 */
import type { AdditiveMeasure, Mark, PlatformFormat, Run } from './types';
import { commonPrefix } from './runs';

export const TELEGRAM_MAX_LENGTH = 4096;
export const TELEGRAM_CAPTION_MAX_LENGTH = 1024;
export const TELEGRAM_MAX_ENTITIES = 100;
export const TELEGRAM_MAX_ENTITY_MARKUP = 8192;

const NEEDS_ESCAPE = /[&<>]/;
const NEEDS_ESCAPE_ATTRIBUTE = /[&<>"]/;

/**
 * Most runs have nothing to escape, so the search comes first; the rest is a loop over the
 * characters after the first hit (about twice as fast as a replace with a callback).
 */
function escapeFrom(text: string, first: number, quotes: boolean): string {
  if (first < 0) return text;
  let out = text.slice(0, first);
  let last = first;
  for (let i = first; i < text.length; i++) {
    const code = text.charCodeAt(i);
    const entity = code === 0x26 ? '&amp;' : code === 0x3c ? '&lt;' : code === 0x3e ? '&gt;' : quotes && code === 0x22 ? '&quot;' : undefined;
    if (entity === undefined) continue;
    out += text.slice(last, i) + entity;
    last = i + 1;
  }
  return out + text.slice(last);
}

export function escapeHtml(text: string): string {
  return escapeFrom(text, text.search(NEEDS_ESCAPE), false);
}

export function escapeAttribute(text: string): string {
  return escapeFrom(text, text.search(NEEDS_ESCAPE_ATTRIBUTE), true);
}

const NAMED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"' };

/** The text Telegram shows for an HTML message: tags dropped, entities decoded. */
export function telegramVisibleText(html: string): string {
  return html.replace(/<[^>]*>/g, '').replace(/&(#x[0-9a-f]+|#[0-9]+|lt|gt|amp|quot);/gi, (whole, name: string) => {
    const lower = name.toLowerCase();
    if (lower.startsWith('#x')) return safeCodePoint(parseInt(lower.slice(2), 16), whole);
    if (lower.startsWith('#')) return safeCodePoint(parseInt(lower.slice(1), 10), whole);
    return NAMED[lower] ?? whole;
  });
}

function safeCodePoint(code: number, fallback: string): string {
  return Number.isFinite(code) && code >= 0 && code <= 0x10ffff ? String.fromCodePoint(code) : fallback;
}

export function measureTelegramHtml(html: string): number {
  return telegramVisibleText(html).length;
}

/**
 * Telegram's nesting rules: code and pre contain nothing and sit in nothing but (for code) a quote;
 * blockquotes do not nest; a link never holds a link. Marks that would break a rule are dropped so
 * Telegram never refuses the message with "can't parse entities"; the text itself is always kept.
 * Marks that already obey the rules come back as the same array (no allocation on the common path).
 */
function telegramMarks(marks: readonly Mark[]): readonly Mark[] {
  if (obeysRules(marks)) return marks;
  const pre = marks.find((mark) => mark.kind === 'pre');
  if (pre) return [pre];
  const quote = marks.find((mark) => mark.kind === 'quote');
  const link = marks.find((mark) => mark.kind === 'link');
  const out: Mark[] = quote ? [quote] : [];
  if (marks.some((mark) => mark.kind === 'code')) {
    // A link wins over inline code (Telegram cannot put code inside a link): the link is the content.
    out.push(link ?? { kind: 'code' });
    return out;
  }
  for (const mark of marks) if (mark.kind !== 'quote' && (mark.kind !== 'link' || mark === link)) out.push(mark);
  return out;
}

/** The shapes telegramMarks leaves as they are: [pre], [quote?, code], or [quote?, ...styles and one link]. */
function obeysRules(marks: readonly Mark[]): boolean {
  let links = 0;
  for (let i = 0; i < marks.length; i++) {
    const kind = marks[i].kind;
    if (kind === 'pre') return marks.length === 1;
    if (kind === 'quote' && i > 0) return false;
    if (kind === 'code') return i === marks.length - 1 && (i === 0 || (i === 1 && marks[0].kind === 'quote'));
    if (kind === 'link' && ++links > 1) return false;
  }
  return true;
}

function isBreak(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) !== 10) return false;
  return text.length > 0;
}

function sameMarks(a: readonly Mark[], b: readonly Mark[]): boolean {
  return a === b || (a.length === b.length && commonPrefix(a, b) === a.length);
}

/**
 * The runs as Telegram will get them: marks obeying its nesting rules, adjacent line breaks merged,
 * and a line break keeping only the entities on both sides of it (after a quote that a code block
 * had to leave, the blank line goes outside the quote instead of dangling at its end). Idempotent,
 * and runs that already are so come back as the same array (serialising a part the splitter
 * normalised then costs one pass and no copy).
 */
export function normalizeTelegramRuns(runs: readonly Run[]): readonly Run[] {
  return isNormalized(runs) ? runs : rewrite(runs);
}

function isNormalized(runs: readonly Run[]): boolean {
  for (let i = 0; i < runs.length; i++) {
    const run = runs[i];
    if (!run.text || !obeysRules(run.marks)) return false;
    if (!isBreak(run.text)) continue;
    const before = runs[i - 1];
    const after = runs[i + 1];
    if (before && isBreak(before.text) && sameMarks(before.marks, run.marks)) return false;
    if (run.marks.length && before && after && Math.min(commonPrefix(run.marks, before.marks), commonPrefix(run.marks, after.marks)) < run.marks.length) return false;
  }
  return true;
}

function rewrite(runs: readonly Run[]): Run[] {
  const out: Run[] = [];
  for (const run of runs) {
    if (!run.text) continue;
    const marks = telegramMarks(run.marks);
    const last = out[out.length - 1];
    if (last && isBreak(run.text) && isBreak(last.text) && sameMarks(last.marks, marks)) {
      out[out.length - 1] = { text: last.text + run.text, marks: last.marks };
    } else out.push(marks === run.marks ? run : { text: run.text, marks });
  }
  for (let i = 1; i < out.length - 1; i++) {
    const run = out[i];
    if (!run.marks.length || !isBreak(run.text)) continue;
    const keep = Math.min(commonPrefix(run.marks, out[i - 1].marks), commonPrefix(run.marks, out[i + 1].marks));
    if (keep < run.marks.length) out[i] = { text: run.text, marks: run.marks.slice(0, keep) };
  }
  return out;
}

function preLanguage(mark: { readonly lang: string }): string {
  return mark.lang.replace(/[^\w+#.-]/g, '');
}

function openTag(mark: Mark): string {
  switch (mark.kind) {
    case 'bold':
      return '<b>';
    case 'italic':
      return '<i>';
    case 'strike':
      return '<s>';
    case 'underline':
      return '<u>';
    case 'code':
      return '<code>';
    case 'quote':
      return '<blockquote>';
    case 'link':
      return `<a href="${escapeAttribute(mark.href)}">`;
    case 'pre': {
      const lang = preLanguage(mark);
      return lang ? `<pre><code class="language-${lang}">` : '<pre>';
    }
  }
}

function closeTag(mark: Mark): string {
  switch (mark.kind) {
    case 'bold':
      return '</b>';
    case 'italic':
      return '</i>';
    case 'strike':
      return '</s>';
    case 'underline':
      return '</u>';
    case 'code':
      return '</code>';
    case 'quote':
      return '</blockquote>';
    case 'link':
      return '</a>';
    case 'pre':
      return preLanguage(mark) ? '</code></pre>' : '</pre>';
  }
}

/** One entity's size against TELEGRAM_MAX_ENTITY_MARKUP: its tag pair as sent. */
export function telegramEntitySize(mark: Mark): number {
  return openTag(mark).length + closeTag(mark).length;
}

/** Opens and closes tags as the marks change between runs; everything is closed at the end. */
export function serializeTelegramHtml(runs: readonly Run[]): string {
  let html = '';
  let open: readonly Mark[] = [];
  for (const run of normalizeTelegramRuns(runs)) {
    const marks = run.marks;
    const keep = commonPrefix(open, marks);
    for (let i = open.length - 1; i >= keep; i--) html += closeTag(open[i]);
    for (let i = keep; i < marks.length; i++) html += openTag(marks[i]);
    open = marks;
    html += escapeHtml(run.text);
  }
  for (let i = open.length - 1; i >= 0; i--) html += closeTag(open[i]);
  return html;
}

/** Telegram counts the visible text only, in UTF-16 units: a run's length is its text's length. */
const VISIBLE_UTF16: AdditiveMeasure = { of: measureTelegramHtml, text: (visible) => visible.length };

export const TELEGRAM_HTML: PlatformFormat = {
  name: 'telegram-html',
  maxLength: TELEGRAM_MAX_LENGTH,
  measure: measureTelegramHtml,
  serialize: serializeTelegramHtml,
  additiveMeasure: VISIBLE_UTF16,
  normalize: normalizeTelegramRuns,
  maxEntities: TELEGRAM_MAX_ENTITIES,
  maxEntitySize: TELEGRAM_MAX_ENTITY_MARKUP,
  entitySize: telegramEntitySize,
};
