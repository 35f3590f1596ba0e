/**
 * Telegram HTML (parse_mode 'HTML'): only the tags Telegram accepts, nested the way its entity rules
 * allow, with `& < >` escaped in text and `"` too in attributes. Length is measured as Telegram does:
 * on the visible text after entity parsing, in UTF-16 code units.
 */
import type { Mark, PlatformFormat, Run } from './types';
import { commonPrefix } from './runs';

export const TELEGRAM_MAX_LENGTH = 4096;
export const TELEGRAM_CAPTION_MAX_LENGTH = 1024;

export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function escapeAttribute(text: string): string {
  return escapeHtml(text).replace(/"/g, '&quot;');
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
 * blockquotes do not nest. Marks that would break a rule are dropped so Telegram never refuses the
 * message with "can't parse entities"; the text itself is always kept.
 */
function telegramMarks(marks: readonly Mark[]): Mark[] {
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
  for (const mark of marks) if (mark.kind !== 'quote') out.push(mark);
  return out;
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
      const lang = mark.lang.replace(/[^\w+#.-]/g, '');
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
      return mark.lang.replace(/[^\w+#.-]/g, '') ? '</code></pre>' : '</pre>';
  }
}

/** Opens and closes tags as the marks change between runs; everything is closed at the end. */
export function serializeTelegramHtml(runs: readonly Run[]): string {
  let html = '';
  let open: Mark[] = [];
  const mapped: Array<{ text: string; marks: Mark[] }> = [];
  for (const run of runs) {
    if (!run.text) continue;
    const marks = telegramMarks(run.marks);
    const last = mapped[mapped.length - 1];
    const breaks = last && /^\n+$/.test(last.text) && /^\n+$/.test(run.text);
    if (last && breaks && last.marks.length === marks.length && commonPrefix(last.marks, marks) === marks.length) last.text += run.text;
    else mapped.push({ text: run.text, marks });
  }
  // A line break keeps only the entities on both sides of it: after a quote that a code block
  // had to leave, the blank line goes outside the quote instead of dangling at its end.
  mapped.forEach((run, i) => {
    if (!/^\n+$/.test(run.text) || i === 0 || i === mapped.length - 1) return;
    const keep = Math.min(commonPrefix(run.marks, mapped[i - 1].marks), commonPrefix(run.marks, mapped[i + 1].marks));
    run.marks = run.marks.slice(0, keep);
  });
  for (const run of mapped) {
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

export const TELEGRAM_HTML: PlatformFormat = {
  name: 'telegram-html',
  maxLength: TELEGRAM_MAX_LENGTH,
  measure: measureTelegramHtml,
  serialize: serializeTelegramHtml,
};
