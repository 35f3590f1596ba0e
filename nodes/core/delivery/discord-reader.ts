/**
 * Discord Markdown read back: the text a reader sees and the formatting at every character, as
 * Discord's client parses a message's `content`. The client is built on simple-markdown, and this
 * reader follows its algorithm: at each position the rules are tried in their order, the first
 * that matches wins (bold, italic and underline compete on length), the text rule stops before
 * every character another rule could start with, and a span's content is parsed again inside it.
 * Where Discord's exact rules are not known, the strictest reading is taken, so that text this
 * reader formats as intended is formatted so by Discord:
 *
 * - subtext `-# `, headings `#`-`###`, lists `- ` `* ` `1. ` and quotes `> ` / `>>> ` at a line's
 *   start (after any spaces); a quote's lines lose their `> ` and are read again as a quote;
 * - ``` code blocks anywhere (an optional language name and line break after the opening fence,
 *   line breaks next to either fence dropped), verbatim, ending at the first ```;
 * - `||spoiler||`, `\` before any non-alphanumeric, non-space character (not in a link's label,
 *   where Discord disables escapes), `<scheme:/…>` and `<a@b>` links, bare http(s) addresses (any
 *   case), `[label](address)` with balanced brackets in the label;
 * - `*italic*` (not after an opening `*` followed by whitespace, nor a `*` after whitespace inside
 *   it), `_italic_` opening at any underscore (simple-markdown's `\b` before it is always true, as
 *   its rules see only the rest of the text) and closing at the next underscore before a non-word
 *   character, `**bold**`, `__underline__`, the longest winning; `~~strike~~` (also before an
 *   underscore, which Discord's variant refuses: the stricter reading); code spans in backtick
 *   fences of any length, a space next to a backtick at either end dropped;
 * - mentions of any length of digits (`<@1>`, `<@&1>`, `<#1>`, `<:a:1>`, `<t:1>`, `</a:1>`), and
 *   `@everyone` / `@here` in any case;
 * - zero-width spaces (U+200B) are invisible: not part of the visible text.
 */

export interface DiscordReading {
  /** What a reader sees: markers, fences, quote markers, escapes and zero-width spaces gone. */
  readonly visible: string;
  /**
   * Per UTF-16 unit of `visible`, its formatting: 'bold', 'italic', 'underline', 'strike',
   * 'spoiler', 'code', 'pre', 'quote', 'heading', 'subtext', 'list', 'link <address>',
   * 'mention', 'ping' (@everyone, @here, a user or role mention).
   */
  readonly styles: ReadonlyArray<readonly string[]>;
  /** The code blocks, in order: their language and text (as shown). */
  readonly codeBlocks: ReadonlyArray<{ readonly lang: string; readonly text: string }>;
}

interface Context {
  /** Is the text's first position a line's start? */
  readonly lineStart: boolean;
  readonly inQuote: boolean;
  readonly inLabel: boolean;
}

const NO_STYLES: readonly string[] = [];
const ZWSP = /\u200b/g;

const SUBTEXT = /-# +([^\n]+?)(\n|$)/y;
const HEADING = /(#{1,3}) +([^\n]+?)(\n|$)/y;
const LIST = /( *)([*-]|\d+\.) +/y;
const QUOTE = /( *>>> ([\s\S]*))|( *> [^\n]*(?:\n *> [^\n]*)*\n?)/y;
const SPOILER = /\|\|([\s\S]+?)\|\|/y;
const CODE_BLOCK = /```(?:([a-z0-9_+\-.#]+?)\n+)?\n*([\s\S]+?)\n*```/iy;
const ESCAPE = /\\([^0-9A-Za-z\s])/y;
const AUTOLINK = /<([^: >]+:\/[^ >]+)>/y;
const MAILTO = /<([^ >]+@[^ >]+)>/y;
const URL = /(https?:\/\/[^\s<]+[^<.,:;"')\]\s])/iy;
const LINK = /\[((?:\[[^\]]*\]|[^[\]]|\](?=[^[]*\]))*)\]\(\s*<?((?:\([^)]*\)|[^\s\\]|\\.)*?)>?(?:\s+['"]([\s\S]*?)['"])?\s*\)/y;
const EM = /_((?:__|\\[\s\S]|[^\\_])+?)_\b|\*(?=\S)((?:\*\*|\\[\s\S]|\s+(?:\\[\s\S]|[^\s*\\]|\*\*)|[^\s*\\])+?)\*(?!\*)/y;
const STRONG = /\*\*((?:\\[\s\S]|[^\\])+?)\*\*(?!\*)/y;
const UNDERLINE = /__((?:\\[\s\S]|[^\\])+?)__(?!_)/y;
const STRIKE = /~~(?=\S)((?:\\[\s\S]|~(?!~)|[^\s~\\]|\s(?!~~))+?)~~/y;
const INLINE_CODE = /(`+)([\s\S]*?[^`])\1(?!`)/y;
const MENTIONS: ReadonlyArray<[RegExp, string]> = [
  [/<@!?\d+>/y, 'ping'],
  [/<@&\d+>/y, 'ping'],
  [/<#\d+>/y, 'mention'],
  [/<a?:\w+:\d+>/y, 'mention'],
  [/@everyone/iy, 'ping'],
  [/@here/iy, 'ping'],
  [/<t:-?\d+(?::[A-Za-z])?>/y, 'mention'],
  [/<\/[^:>]+:\d+>/y, 'mention'],
  [/<\d+:[a-z-]+(?::\d+)?>/y, 'mention'],
];
const SHRUG = /¯\\_\(ツ\)_\/¯/y;

function quality(match: RegExpExecArray | null, bonus: number): number {
  return match ? match[0].length + bonus : -1;
}

function at(re: RegExp, src: string, i: number): RegExpExecArray | null {
  re.lastIndex = i;
  return re.exec(src);
}

function add(styles: readonly string[], style: string): readonly string[] {
  return styles.includes(style) ? styles : styles.concat(style);
}

function isPlain(code: number): boolean {
  return (code >= 0x30 && code <= 0x39) || (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a) || code === 0x20 || code === 0x09;
}

class Reader {
  visible = '';
  readonly styles: Array<readonly string[]> = [];
  readonly codeBlocks: Array<{ lang: string; text: string }> = [];

  emit(text: string, styles: readonly string[]): void {
    const vis = text.indexOf('\u200b') >= 0 ? text.replace(ZWSP, '') : text;
    this.visible += vis;
    for (let k = 0; k < vis.length; k++) this.styles.push(styles);
  }

  parse(src: string, base: readonly string[], ctx: Context): void {
    let i = 0;
    while (i < src.length) i = this.step(src, i, base, ctx);
  }

  /** Reads what starts at `i`; returns where the next rule is tried. */
  private step(src: string, i: number, base: readonly string[], ctx: Context): number {
    const lineStart = i === 0 ? ctx.lineStart : src.charCodeAt(i - 1) === 0x0a;
    const inner: Context = { lineStart: false, inQuote: ctx.inQuote, inLabel: ctx.inLabel };
    let m: RegExpExecArray | null;
    if (lineStart) {
      if ((m = at(SUBTEXT, src, i))) return this.line(m, m[1], base, 'subtext', inner, i);
      if ((m = at(HEADING, src, i))) return this.line(m, m[2], base, 'heading', inner, i);
    }
    if ((m = at(SPOILER, src, i))) {
      this.parse(m[1], add(base, 'spoiler'), inner);
      return i + m[0].length;
    }
    if ((m = at(CODE_BLOCK, src, i))) {
      this.codeBlocks.push({ lang: m[1] ?? '', text: m[2].replace(ZWSP, '') });
      this.emit(m[2], add(base, 'pre'));
      return i + m[0].length;
    }
    if (lineStart && !ctx.inQuote && (m = at(QUOTE, src, i))) {
      const block = m[1] !== undefined;
      const content = m[0].replace(block ? /^ *>>> ?/ : /^ *> ?/gm, '');
      this.parse(content, add(base, 'quote'), { lineStart: true, inQuote: true, inLabel: ctx.inLabel });
      return i + m[0].length;
    }
    if (lineStart && (m = at(LIST, src, i))) {
      let end = src.indexOf('\n', i);
      if (end < 0) end = src.length;
      this.parse(src.slice(i + m[0].length, end), add(base, 'list'), inner);
      return end;
    }
    const c = src.charCodeAt(i);
    if (c === 0x0a) {
      this.emit('\n', base);
      return i + 1;
    }
    if (!ctx.inLabel && (m = at(ESCAPE, src, i))) {
      this.emit(m[1], base);
      return i + m[0].length;
    }
    if ((m = at(AUTOLINK, src, i)) || (m = at(MAILTO, src, i))) {
      this.emit(m[1], add(base, `link ${m[1]}`));
      return i + m[0].length;
    }
    if ((m = at(URL, src, i))) {
      this.emit(m[1], add(base, `link ${m[1]}`));
      return i + m[0].length;
    }
    if ((m = at(LINK, src, i))) {
      this.parse(m[1], add(base, `link ${m[2]}`), { lineStart: false, inQuote: ctx.inQuote, inLabel: true });
      return i + m[0].length;
    }
    // Bold, italic and underline: the longest match wins, italic over bold over underline on a tie.
    const em = at(EM, src, i);
    const strong = at(STRONG, src, i);
    const under = at(UNDERLINE, src, i);
    const best = Math.max(quality(em, 0.2), quality(strong, 0.1), quality(under, 0));
    if (best >= 0) {
      if (em && best === quality(em, 0.2)) this.parse(em[2] ?? em[1], add(base, 'italic'), inner);
      else if (strong && best === quality(strong, 0.1)) this.parse(strong[1], add(base, 'bold'), inner);
      else if (under) this.parse(under[1], add(base, 'underline'), inner);
      return i + (em && best === quality(em, 0.2) ? em : strong && best === quality(strong, 0.1) ? strong : under)![0].length;
    }
    for (const [re, style] of MENTIONS) {
      if ((m = at(re, src, i))) {
        this.emit(m[0], add(base, style));
        return i + m[0].length;
      }
    }
    if ((m = at(STRIKE, src, i))) {
      this.parse(m[1], add(base, 'strike'), inner);
      return i + m[0].length;
    }
    if ((m = at(INLINE_CODE, src, i))) {
      this.emit(m[2].replace(/^ (?= *`)|(` *) $/g, '$1'), add(base, 'code'));
      return i + m[0].length;
    }
    if ((m = at(SHRUG, src, i))) {
      this.emit(m[0], base);
      return i + m[0].length;
    }
    // Text: letters, digits and spaces up to the next character a rule could start with (an
    // address can start at any h).
    let j = i + 1;
    if (isPlain(c)) while (j < src.length && isPlain(src.charCodeAt(j)) && (src.charCodeAt(j) | 0x20) !== 0x68) j++;
    this.emit(src.slice(i, j), base);
    return j;
  }

  /** A line-start rule whose content runs to the line's end; the line break it took is kept. */
  private line(m: RegExpExecArray, content: string, base: readonly string[], style: string, inner: Context, i: number): number {
    this.parse(content, add(base, style), inner);
    if (m[m.length - 1] === '\n') this.emit('\n', base);
    return i + m[0].length;
  }
}

export function readDiscordMarkdown(text: string): DiscordReading {
  const reader = new Reader();
  reader.parse(text, NO_STYLES, { lineStart: true, inQuote: false, inLabel: false });
  return { visible: reader.visible, styles: reader.styles, codeBlocks: reader.codeBlocks };
}

export function discordVisibleText(text: string): string {
  return readDiscordMarkdown(text).visible;
}
