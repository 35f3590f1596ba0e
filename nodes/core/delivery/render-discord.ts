/**
 * Discord Markdown, for a message's `content`. The layout is the one every platform shares
 * (layout.ts: headings as bold lines, `• ` and `1. ` list lines, rules, tables as padded monospace
 * in a code block); this file writes its styled runs in the Markdown Discord's client renders. That
 * client parses with simple-markdown's rules plus Discord's own (discord-reader.ts reads text back
 * by them, taken at their strictest), and two of their traits decide most of what follows: a
 * backslash before any ASCII punctuation shows that character literally, and a span such as
 * `**bold**` ends at the first closing marker found in the raw text after it — inside a code span
 * or an address too, and, for `_italic_`, across lines and code blocks.
 *
 * Markup: `**bold**`, `*italic*`, `~~strike~~`, `__underline__`, code spans in backticks, code
 * blocks as ``` fences on lines of their own with the language after the opening fence (only a
 * name Discord takes for one, `[a-z0-9_+\-.#]`; another is left off, as Discord would show it as
 * code), quotes as `> ` at the start of every quoted line — a quoted code block's fences and code
 * lines included, a blank line inside a quote as `> ` so it stays one quote. Nested quotes become
 * one; a line with any quoted text is quoted from its start (a quote in a list item quotes the
 * item's bullet too: Discord quotes lines, not parts of them). Markers open and close at the edges
 * of the text they style, never on whitespace, nest bold, italic, strike, underline from the
 * outside in where they cover the same text, and close at every line end.
 *
 * Headings and lists. Discord renders `#`/`##`/`###` headings and `- `/`1. ` lists, but the shared
 * layout hands every renderer a heading as a bold line and a list as `• `/`1. ` text lines (a run
 * carries no heading level or list item), so that is what Discord gets: bold lines, and bullet or
 * number lines with the numbers as written (`1\. `, so Discord neither renumbers nor re-indents
 * them). Native headings need the layout to mark them.
 *
 * Escaping. The agent's text must not turn into formatting it did not ask for, and should stay
 * readable, so a character is escaped with a backslash only where Discord could read it as markup:
 * - always: `` ` `` and `[` (a code span or a masked link can start at either, and end far away);
 * - `*` unless it has whitespace on both sides (`2 * 3`), and always inside an italic; `_` unless
 *   it sits between two ASCII letters or digits (`snake_case`); `~` and `|` next to another of
 *   their kind (`~5 min` and `a | b` stay);
 * - `\` before anything but a letter, digit or whitespace (`C:\Users` stays); `<` unless whitespace
 *   follows (`a < b` stays; `<@…>`, `<#…>`, `<:name:id>`, `<t:…>`, `</cmd:…>` and `<https://…>`
 *   written as text show literally); `(` after `]`; the `:` of an `http(s)://` that is not a link;
 * - at a line's start (after its indentation, a quote marker or markers): `#`, `>`, `*`, `-` before
 *   whitespace or `#` (lists, `-# subtext`), and the `.` of `12. ` (ordered lists).
 * A `snake_case` underscore can still open an `_italic_` that ends at the next underscore before a
 * non-word character, anywhere after it in the message (in a code span, a code block, an address):
 * the writer remembers such underscores and escapes them when that happens.
 *
 * Mentions. The out node always sends `allowed_mentions: {parse: []}`; the text is inert as well:
 * an `@` that could ping — before `everyone` or `here` (any case), or after `<` (`<@123>`,
 * `<@&123>`) — gets a zero-width space (U+200B) after it, everywhere: prose, link labels, code
 * spans and code blocks (invisible, and mention syntax pasted from code would not work anyway).
 * Discord's client shows `\<@&123>`, with the backslash escape, as the literal `<@&123>`, and no
 * server or client pattern for a mention or `@everyone` matches across the zero-width space.
 *
 * Code. Code blocks and spans are verbatim but for invisible changes: three or more backticks in
 * a row get a zero-width space between each two (a code block ends at the first ```, and the fence
 * cannot be made longer); so does `](`, which would let an earlier masked link's label run on to
 * it (Discord's link rule allows a `]` in a label when another follows before any `[`); inside a
 * bold, strike or underline span a code span's `**`, `~~` or `__` gets one too (the span would end
 * there); and the mention guard above. A code span holding a backtick gets a double-backtick fence,
 * with a space inside it next to a backtick at either end (`` `` a`b `` ``; Discord drops it, as
 * CommonMark does). Blank lines at a code block's edge go outside its fence (Discord drops line
 * breaks next to a fence). An italic around a code span holding a `*` is closed before it and
 * opened again after: nothing can escape that `*`.
 *
 * Links. Only http(s) links are written as links, and none unfurls into an embed: a link whose
 * label is its address is written `<url>`, any other `[label](<url>)` (the angle brackets suppress
 * the embed; without them every link in a reply would bring a preview). In the address, whitespace,
 * `< > ( ) [ ] \` are percent-encoded (so is the `@` of `@everyone`/`@here`). Discord shows a
 * masked link's label without backslash escapes (escaping is disabled there), so a label character
 * that could form markup there — a backtick, `< > \`, a second `*`, an `_` not between letters or
 * digits, a doubled `~` or `|`, a bracket outside a `[…]` pair, the `:` of `://` — is written
 * between two masked links to the same address, escaped, as text: `[my_var](<u>)\_`. (Whether a
 * label could be linked whole depends on all of it, and a part may end anywhere in it; this way a
 * longer piece of a label is never written shorter, which the splitter relies on.) A label that is
 * an address other than its own (or the start of one) is written as text, never as a link that
 * shows one address and goes to another. Formatting inside a label is dropped; formatting around
 * the whole link stays around it, unless the link's markup holds that formatting's closing marker
 * (`**`, `~~`, `__`, or for italic any `*`): then the span closes before the link and resumes after.
 *
 * Zero-width spaces (U+200B), invisible and dropped by discordVisibleText, also go between a
 * marker closing and one opening (`**a**\u200b*b*`), and after a `~~` or `__` closing before an
 * `_` (Discord's strike and underline do not close before one).
 *
 * Length: Discord refuses `content` above 2,000 characters, counted on the raw text, markup
 * included. Discord counts code points; the measure here is UTF-16 code units, never fewer, so a
 * part that fits here fits there (an emoji outside the BMP costs 2 here, 1 there). The markup
 * depends on the neighbours (escapes, zero-width spaces, a link's form), so there is no additive
 * measure: the splitter takes its generic path, serialising candidate parts, and the serialiser
 * resumes where its earlier call for the same part left off (as render-slack.ts does). The
 * splitter measures the longest piece that fits and may then end the part earlier, at whitespace,
 * without measuring again: every choice above keeps a piece ending at whitespace no longer than a
 * longer piece of the same block (a property test holds it to that). A part ends elsewhere only by
 * a hard cut, at a measured length, or moved back off a grapheme cluster (an edge accepted, as in
 * render-slack.ts: a cluster holding a `*`, say `*️⃣`, could then cost a character or two more).
 *
 * The plain fallback (`RenderedPart.plain`) is the visible text, as for the other renderers.
 */
import { resumableSerializer } from './resumable-writer';
import type { Mark, PlatformFormat, Run } from './types';
import { isWhitespace } from './run-table';
import { emphasisOrders, pushSegments } from './emphasis-segments';

/** Discord refuses message content above 2,000 characters. */
export const DISCORD_MAX_LENGTH = 2000;

const ZWSP = '\u200b';
/** A bare `snake_case` underscore in a line being written, until the writer has judged it. */
const SENTINEL = '\u0000';

const BOLD = 1;
const ITALIC = 2;
const STRIKE = 4;
const UNDERLINE = 8;
const CODE = 16;
const LINK = 32;
const INLINE = BOLD | ITALIC | STRIKE | UNDERLINE | CODE | LINK;
/** Emphasis kinds, in the order they nest when they cover the same text (bold outermost). */
const EMPHASIS = [BOLD, ITALIC, STRIKE, UNDERLINE] as const;
const MARKER: Record<number, string> = { [BOLD]: '**', [ITALIC]: '*', [STRIKE]: '~~', [UNDERLINE]: '__' };

// ---------------------------------------------------------------------------------------------
// Characters

function isAsciiAlphanumeric(code: number): boolean {
  return (code >= 0x30 && code <= 0x39) || (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a);
}

/** What JavaScript's `\w` (and so Discord's `\b` after an underscore) takes for a word character. */
function isWordCode(code: number): boolean {
  return code === 0x5f || isAsciiAlphanumeric(code);
}

/** -1 (a line's edge) counts as whitespace: a line ends with a line break or the message's end. */
function isSpaceCode(code: number): boolean {
  return code < 0 || isWhitespace(code);
}

const PING = /@(?=everyone|here)|<@/gi;

/** A zero-width space after every `@` that could ping (before everyone/here, after `<`). */
function guardPings(text: string): string {
  if (text.indexOf('@') < 0) return text;
  return text.replace(PING, (m) => m + ZWSP);
}

function startsWithPing(text: string, at: number): boolean {
  const c = text.charCodeAt(at) | 0x20;
  if (c === 0x65) return text.substr(at, 8).toLowerCase() === 'everyone';
  if (c === 0x68) return text.substr(at, 4).toLowerCase() === 'here';
  return false;
}

/** Three or more backticks in a row, which would end a code block wherever they stood. */
const FENCE_RUN = /`{3,}/g;
const BACKTICK_RUN = /`{2,}/g;

function interleave(run: string): string {
  return run.split('').join(ZWSP);
}

/**
 * `](` anywhere after a masked link would let Discord's link rule take everything up to it as the
 * link's label (its label may hold a `]` that another `]` follows before any `[`): in code it
 * gets a zero-width space, in prose the `(` is escaped.
 */
function guardLinks(text: string): string {
  return text.indexOf('](') < 0 ? text : text.replace(/\]\(/g, ']' + ZWSP + '(');
}

/** A code block line: verbatim but for broken fences and guarded pings and links. */
function preText(text: string): string {
  const guarded = guardLinks(guardPings(text));
  return guarded.indexOf('```') < 0 ? guarded : guarded.replace(FENCE_RUN, interleave);
}

/** A code span, its fence as long as its backticks need, doubled markers of the spans around it broken. */
function codeSpan(text: string, mask: number): string {
  let code = guardLinks(guardPings(text));
  if (mask & BOLD && code.indexOf('**') >= 0) code = code.replace(/\*(?=\*)/g, '*' + ZWSP);
  if (mask & STRIKE && code.indexOf('~~') >= 0) code = code.replace(/~(?=~)/g, '~' + ZWSP);
  if (mask & UNDERLINE && code.indexOf('__') >= 0) code = code.replace(/_(?=_)/g, '_' + ZWSP);
  if (code.indexOf('`') < 0) return '`' + code + '`';
  // Only single backticks inside, so a double fence ends it. Discord drops one space between the
  // fence and a backtick (spaces between): one more there keeps a backtick off the fence and the
  // code's own spaces.
  code = code.replace(BACKTICK_RUN, interleave);
  const lead = /^ *`/.test(code) ? ' ' : '';
  const trail = /` *$/.test(code) ? ' ' : '';
  return '``' + lead + code + trail + '``';
}

// ---------------------------------------------------------------------------------------------
// Links

/** Links Discord writes as links: http(s) only. */
export function isDiscordLink(href: string): boolean {
  return /^https?:\/\/\S/i.test(href);
}

const URL_ESCAPE = /[\s<>()[\]\\]|@(?=everyone|here)/gi;

/** The address as it goes inside a masked link's `(<…>)`: nothing in it can end the link. */
export function discordUrl(href: string): string {
  URL_ESCAPE.lastIndex = 0;
  if (!URL_ESCAPE.test(href)) return href;
  return href.replace(URL_ESCAPE, (ch) => (ch.charCodeAt(0) < 0x80 ? '%' + ch.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0') : encodeURIComponent(ch)));
}

const ADDRESS = /^https?:\/\/[^\s<>]+$/i;

function sameAddress(label: string, href: string): boolean {
  if (label === href) return true;
  const norm = (url: string): string => decoded(url).replace(/\/$/, '').toLowerCase();
  return norm(label) === norm(href);
}

function decoded(url: string): string {
  try {
    return decodeURI(url);
  } catch {
    return url;
  }
}

/**
 * Which characters of a label Discord could not show literally inside `[…](…)`, where it honours
 * no backslash escapes: those that could form markup there. A backtick, `<`, `>`, `\`, a line
 * break; `*` when there are two; `_` unless between two ASCII letters or digits; `~` or `|` next
 * to another; a bracket not in a pair `[…]` (no brackets inside, and no `(` after its `]`: that
 * would be a link in the label); the `:` of `://`. Each rule looks no further than the piece it is
 * given, and a character the rest of the piece makes unsafe never makes another safe: so a longer
 * piece of a label is never written shorter.
 */
function unsafeInLabel(label: string): Uint8Array | undefined {
  if (!LABEL_SPECIAL.test(label)) return undefined;
  const unsafe = new Uint8Array(label.length);
  let any = false;
  const mark = (i: number): void => {
    unsafe[i] = 1;
    any = true;
  };
  let stars = 0;
  for (let i = 0; i < label.length; i++) if (label.charCodeAt(i) === 0x2a) stars++;
  let open = -1; // the index of a `[` waiting for its `]`
  for (let i = 0; i < label.length; i++) {
    const c = label.charCodeAt(i);
    switch (c) {
      case 0x0a:
      case 0x0d:
      case 0x3c:
      case 0x3e:
      case 0x60:
      case 0x5c:
        mark(i);
        break;
      case 0x2a:
        if (stars > 1) mark(i);
        break;
      case 0x5f:
        if (!isAsciiAlphanumeric(label.charCodeAt(i - 1)) || !isAsciiAlphanumeric(label.charCodeAt(i + 1))) mark(i);
        break;
      case 0x7e:
      case 0x7c:
        if (label.charCodeAt(i - 1) === c || label.charCodeAt(i + 1) === c) mark(i);
        break;
      case 0x3a:
        if (label.startsWith('//', i + 1)) mark(i);
        break;
      case 0x5b:
        if (open >= 0) mark(open);
        open = i;
        break;
      case 0x5d:
        if (open < 0 || label.charCodeAt(i + 1) === 0x28) {
          mark(i);
          if (open >= 0) mark(open);
        }
        open = -1;
        break;
    }
  }
  if (open >= 0) mark(open);
  return any ? unsafe : undefined;
}

const LABEL_SPECIAL = /[\n\r<>`\\*_~|:[\]]/;

/** May a label be linked as a whole? (No character of it is unsafe inside a masked link.) */
export function isMaskableLabel(label: string): boolean {
  return label.trim() !== '' && unsafeInLabel(label) === undefined;
}

/** What a link's markup holds where a span around it could end: its linked text and its address. */
let linkedText = '';

/**
 * How a link goes out, or undefined when it goes out as its label's text (a label that is an
 * address other than its own). A label that is its address is `<url>`; otherwise the label's
 * stretches Discord can show in a masked link are each `[stretch](<url>)`, and the characters it
 * could not show there go between them as escaped text (usually there are none: one link). Sets
 * `linkedText` to what the markup holds unescaped.
 */
function linkToken(label: string, href: string): string | undefined {
  if (ADDRESS.test(label) || 'https://'.startsWith(label) || 'http://'.startsWith(label)) {
    // A label that is an address (or the start of one: a part may end anywhere in a long one):
    // linked to itself when that is this link's address (give or take its encoding and a final
    // slash), else text, never a link that shows one address and goes to another.
    if (!ADDRESS.test(label) || !sameAddress(label, href) || label.indexOf('](') >= 0) return undefined;
    linkedText = label;
    return `<${label}>`;
  }
  const url = discordUrl(href);
  const unsafe = unsafeInLabel(label);
  if (!unsafe) {
    if (!label.trim()) return undefined;
    linkedText = label + url;
    return `[${guardPings(label)}](<${url}>)`;
  }
  let out = '';
  linkedText = url;
  for (let i = 0; i < label.length; ) {
    if (unsafe[i]) {
      out += isWhitespace(label.charCodeAt(i)) ? label[i] : '\\' + label[i];
      i++;
      continue;
    }
    let j = i + 1;
    while (j < label.length && !unsafe[j]) j++;
    const stretch = label.slice(i, j);
    if (stretch.trim()) {
      out += `[${guardPings(stretch)}](<${url}>)`;
      linkedText += stretch;
    } else out += stretch;
    i = j;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Marks

/** The link `markBits` last found (its LINK bit set), read right after the call. */
let foundHref = '';

/**
 * What Discord can write of a run's marks, as bits: formatting inside a link is dropped (the link
 * stands for its label), nothing sits inside code, a mark repeated inside itself counts once, only
 * the outermost http(s) link counts. (Bits rather than an object: this runs for every run of every
 * candidate part.)
 */
function markBits(marks: readonly Mark[]): number {
  let bits = 0;
  let closed = false;
  let linkSeen = false;
  for (let i = 0; i < marks.length; i++) {
    const mark = marks[i];
    switch (mark.kind) {
      case 'link':
        if (closed || linkSeen) break;
        linkSeen = true;
        if (isDiscordLink(mark.href)) {
          bits |= LINK;
          foundHref = mark.href;
          closed = true;
        }
        break;
      case 'code':
        if (!closed) bits |= CODE;
        closed = true;
        break;
      case 'bold':
        if (!closed) bits |= BOLD;
        break;
      case 'italic':
        if (!closed) bits |= ITALIC;
        break;
      case 'strike':
        if (!closed) bits |= STRIKE;
        break;
      case 'underline':
        if (!closed) bits |= UNDERLINE;
        break;
    }
  }
  return bits;
}

function preOf(marks: readonly Mark[] | undefined): Extract<Mark, { kind: 'pre' }> | undefined {
  if (!marks) return undefined;
  for (let i = 0; i < marks.length; i++) {
    const mark = marks[i];
    if (mark.kind === 'pre') return mark;
  }
  return undefined;
}

function hasQuote(marks: readonly Mark[] | undefined): boolean {
  if (!marks) return false;
  for (let i = 0; i < marks.length; i++) if (marks[i].kind === 'quote') return true;
  return false;
}

/** A language Discord takes from the opening fence; anything else is left off. */
function fenceLanguage(lang: string): string {
  return /^[a-z0-9_+\-.#]+$/i.test(lang) ? lang : '';
}

// ---------------------------------------------------------------------------------------------
// Prose escaping

const PROSE_SPECIAL = /[\\*_~|`<[(@:]/g;

/** Did the last escapeProse write a SENTINEL? */
let wroteSentinel = false;

/**
 * A stretch of prose with the characters Discord could read as markup escaped (see the file's
 * comment). `prev` and `next` are the codes of the characters written around it (-1: the line's
 * edge); `italic`: it is inside an italic `*…*`; `atStart`: nothing but
 * whitespace and markers precedes it on its line. A `snake_case` underscore is written as SENTINEL
 * for the writer to judge.
 */
function escapeProse(text: string, prev: number, next: number, italic: boolean, atStart: boolean): string {
  let lead = -1; // the line-start character's index
  let dot = -1; // the `.` of a line-starting `12. `
  if (atStart) {
    let f = 0;
    while (f < text.length && isWhitespace(text.charCodeAt(f))) f++;
    if (f < text.length) {
      const c = text.charCodeAt(f);
      const after = f + 1 < text.length ? text.charCodeAt(f + 1) : next;
      if (c === 0x23 || c === 0x3e || c === 0x2a || (c === 0x2d && (isSpaceCode(after) || after === 0x23))) lead = f;
      else if (c >= 0x30 && c <= 0x39) {
        let j = f + 1;
        while (j < text.length && text.charCodeAt(j) >= 0x30 && text.charCodeAt(j) <= 0x39) j++;
        if (j < text.length && text.charCodeAt(j) === 0x2e && isSpaceCode(j + 1 < text.length ? text.charCodeAt(j + 1) : next)) dot = j;
      }
    }
  }
  PROSE_SPECIAL.lastIndex = 0;
  let match = PROSE_SPECIAL.exec(text);
  if (!match && lead < 0 && dot < 0) return text;
  escaping = text;
  escaped = '';
  escapedTo = 0;
  if (lead >= 0) put(lead, '\\' + text[lead]);
  if (dot >= 0) put(dot, '\\.');
  for (; match; match = PROSE_SPECIAL.exec(text)) {
    const i = match.index;
    if (i === lead) continue;
    const c = text.charCodeAt(i);
    const before = i > 0 ? text.charCodeAt(i - 1) : prev;
    const after = i + 1 < text.length ? text.charCodeAt(i + 1) : next;
    switch (c) {
      case 0x5c: // \
        if (!isAsciiAlphanumeric(after) && !isSpaceCode(after)) put(i, '\\\\');
        break;
      case 0x2a: // *
        if (italic || !isSpaceCode(before) || before < 0 || !isSpaceCode(after)) put(i, '\\*');
        break;
      case 0x5f: // _
        if (isAsciiAlphanumeric(before) && isAsciiAlphanumeric(after)) {
          put(i, SENTINEL);
          wroteSentinel = true;
        } else put(i, '\\_');
        break;
      case 0x7e: // ~
        if (before === 0x7e || after === 0x7e) put(i, '\\~');
        break;
      case 0x7c: // |
        if (before === 0x7c || after === 0x7c) put(i, '\\|');
        break;
      case 0x60: // `
        put(i, '\\`');
        break;
      case 0x3c: // <
        if (!isSpaceCode(after)) put(i, '\\<');
        break;
      case 0x5b: // [
        put(i, '\\[');
        break;
      case 0x28: // (
        if (before === 0x5d) put(i, '\\(');
        break;
      case 0x40: // @
        if (before === 0x3c || startsWithPing(text, i + 1)) put(i, '@' + ZWSP);
        break;
      case 0x3a: // :
        if (text.startsWith('//', i + 1) && /https?$/i.test(text.slice(Math.max(0, i - 5), i))) put(i, '\\:');
        break;
    }
  }
  return escapedTo === 0 ? text : escaped + text.slice(escapedTo);
}

/** escapeProse's output so far: `escaped`, then `escaping` from `escapedTo` on. */
let escaping = '';
let escaped = '';
let escapedTo = 0;

/** Writes `replacement` for the character at `i` of the text being escaped. */
function put(i: number, replacement: string): void {
  escaped += escaping.slice(escapedTo, i) + replacement;
  escapedTo = i + 1;
}

// ---------------------------------------------------------------------------------------------
// One line of prose

/** A stretch of a line with the same writable marks; `core` stretches start and end with a non-space. */
interface Segment {
  text: string;
  mask: number;
  href: string | undefined;
  core: boolean;
  /** A code span's or a link's markup, once known. */
  raw?: string;
}

/** Cell kinds: final text (markers, zero-width spaces, code, links) or prose still to escape. */
const FINAL = 0;
const PROSE = 1;
const CLOSER = 2;

/** The cells of the line being written (reused: one line is written at a time). */
const cellText: string[] = [];
const cellKind: number[] = [];
const cellItalic: boolean[] = [];
/** How many cells the line has (the arrays are only ever overwritten, never shrunk). */
let cells = 0;

function push(text: string, kind: number, italic = false): void {
  cellText[cells] = text;
  cellKind[cells] = kind;
  cellItalic[cells] = italic;
  cells++;
}

/** The prose of one line (no quote marker): marks opened and closed at the edges of what they style. */
function proseLine(runs: readonly Run[]): string {
  if (runBits.length < runs.length) runBits = new Int32Array(Math.max(runs.length, 2 * runBits.length));
  if (runHrefs.length < runs.length) runHrefs.length = runs.length;
  let plain = true;
  for (let i = 0; i < runs.length; i++) {
    const bits = markBits(runs[i].marks);
    runBits[i] = bits;
    runHrefs[i] = bits & LINK ? foundHref : undefined;
    if (bits & INLINE) plain = false;
  }
  if (plain) {
    // No inline formatting: one stretch of prose.
    if (runs.length === 1) return escapeProse(runs[0].text, -1, -1, false, true);
    let text = '';
    for (const run of runs) text += run.text;
    return escapeProse(text, -1, -1, false, true);
  }
  if (runs.length === 1) {
    // One run of emphasis only (a heading, say), no whitespace at its edges: its markers around it,
    // nested bold, italic, strike, underline (as emphasisOrders would).
    const { text } = runs[0];
    const bits = runBits[0];
    if (!(bits & (CODE | LINK)) && text && !isWhitespace(text.charCodeAt(0)) && !isWhitespace(text.charCodeAt(text.length - 1))) {
      let open = '';
      for (const kind of EMPHASIS) if (bits & kind) open += MARKER[kind];
      let close = '';
      for (let k = EMPHASIS.length - 1; k >= 0; k--) if (bits & EMPHASIS[k]) close += MARKER[EMPHASIS[k]];
      return open + escapeProse(text, open.charCodeAt(open.length - 1), close.charCodeAt(0), (bits & ITALIC) !== 0, true) + close;
    }
  }
  const segments = segmentsOf(runs);
  let nested = false;
  for (const segment of segments) {
    if (!segment.core) continue;
    // What the markup of a link or code span holds where a span around it would end early: a
    // span ends at its closing marker even inside an address or code. Such a span is closed
    // before that link or code span and opened again after it.
    let inner: string | undefined;
    if (segment.href !== undefined) {
      const raw = linkToken(segment.text, segment.href);
      if (raw === undefined) segment.href = undefined;
      else {
        segment.raw = raw;
        inner = linkedText;
        if (segment.mask & BOLD && inner.indexOf('**') >= 0) segment.mask &= ~BOLD;
        if (segment.mask & STRIKE && inner.indexOf('~~') >= 0) segment.mask &= ~STRIKE;
        if (segment.mask & UNDERLINE && inner.indexOf('__') >= 0) segment.mask &= ~UNDERLINE;
      }
    } else if (segment.mask & CODE) inner = segment.text; // its `**`, `~~`, `__` are broken instead
    // An italic `*…*` cannot hold a single `*`, nor can anything escape one inside code or an address.
    if (inner !== undefined && segment.mask & ITALIC && inner.indexOf('*') >= 0) segment.mask &= ~ITALIC;
    if (segment.mask & CODE && segment.raw === undefined) segment.raw = codeSpan(segment.text, segment.mask);
    const emphasis = segment.mask & (BOLD | ITALIC | STRIKE | UNDERLINE);
    if (emphasis & (emphasis - 1)) nested = true;
  }
  cells = 0;
  if (!nested) return simpleLine(segments);
  const orders = emphasisOrders(segments, EMPHASIS);
  let nextOrder: readonly number[] = NONE;
  const nextOrders: Array<readonly number[]> = new Array(segments.length);
  for (let i = segments.length - 1; i >= 0; i--) {
    nextOrders[i] = nextOrder;
    if (segments[i].core) nextOrder = orders[i];
  }
  const open = openMarks;
  open.length = 0;
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i];
    if (!segment.core) {
      // Markers close before whitespace, never after it; nothing opens on whitespace.
      let keep = commonLength(open, nextOrders[i]);
      for (let k = 0; k < keep; k++) {
        if (!(segment.mask & open[k])) {
          keep = k;
          break;
        }
      }
      if (keep < open.length) closeTo(keep);
      push(segment.text, PROSE);
      continue;
    }
    const order = orders[i];
    const keep = commonLength(open, order);
    const closing = keep < open.length;
    const opening = keep < order.length;
    if (closing) closeTo(keep);
    const first = (segment.raw ?? segment.text).charCodeAt(0);
    if (opening) {
      if (closing) push(ZWSP, FINAL);
      for (let k = keep; k < order.length; k++) {
        open.push(order[k]);
        push(MARKER[order[k]], FINAL);
      }
    } else if (closing) {
      // `~~` and `__` end only before a character other than an underscore.
      const closer = cellText[cells - 1];
      if ((closer === '~~' || closer === '__') && first === 0x5f) push(ZWSP, FINAL);
    }
    if (segment.raw !== undefined) push(segment.raw, FINAL);
    else push(segment.text, PROSE, open.indexOf(ITALIC) >= 0);
  }
  closeTo(0);
  return joinCells();
}

/**
 * proseLine for the usual line, where no stretch carries two emphasis marks: at most one marker is
 * open at a time (the same algorithm with its stack of one).
 */
function simpleLine(segments: readonly Segment[]): string {
  const n = segments.length;
  // The emphasis of the next core segment after each one (what may stay open across whitespace).
  const nextKind = nextKinds.length < n ? (nextKinds = new Int32Array(Math.max(n, 2 * nextKinds.length))) : nextKinds;
  let after = 0;
  for (let i = n - 1; i >= 0; i--) {
    nextKind[i] = after;
    if (segments[i].core) after = segments[i].mask & (BOLD | ITALIC | STRIKE | UNDERLINE);
  }
  let open = 0;
  for (let i = 0; i < n; i++) {
    const segment = segments[i];
    if (!segment.core) {
      // Markers close before whitespace, never after it; nothing opens on whitespace.
      if (open && !(segment.mask & open && nextKind[i] === open)) {
        push(MARKER[open], CLOSER);
        open = 0;
      }
      push(segment.text, PROSE);
      continue;
    }
    const kind = segment.mask & (BOLD | ITALIC | STRIKE | UNDERLINE);
    if (kind !== open) {
      if (open) push(MARKER[open], CLOSER);
      if (kind) {
        if (open) push(ZWSP, FINAL);
        push(MARKER[kind], FINAL);
      } else if ((open === STRIKE || open === UNDERLINE) && (segment.raw ?? segment.text).charCodeAt(0) === 0x5f) push(ZWSP, FINAL);
      open = kind;
    }
    if (segment.raw !== undefined) push(segment.raw, FINAL);
    else push(segment.text, PROSE, open === ITALIC);
  }
  if (open) push(MARKER[open], CLOSER);
  return joinCells();
}

let nextKinds = new Int32Array(16);

/** The emphasis open on the line being written, outermost first. */
const openMarks: number[] = [];

/** Closes the open emphasis down to the first `keep`, innermost first. */
function closeTo(keep: number): void {
  const open = openMarks;
  for (let k = open.length - 1; k >= keep; k--) {
    const text = MARKER[open[k]];
    // `~~` and `__` end only before a character other than an underscore.
    const inner = cells && cellKind[cells - 1] === CLOSER ? cellText[cells - 1] : '';
    if (text.charCodeAt(0) === 0x5f && (inner === '__' || inner === '~~')) push(ZWSP, FINAL);
    push(text, CLOSER);
  }
  open.length = keep;
}

/** Escapes the prose cells with their neighbours as written, and joins the line. */
function joinCells(): string {
  let line = '';
  let atStart = true;
  const n = cells;
  for (let i = 0; i < n; i++) {
    let text = cellText[i];
    if (cellKind[i] === PROSE) {
      const before = i > 0 ? lastOf(cellText[i - 1]) : -1;
      const after = i + 1 < n ? cellText[i + 1].charCodeAt(0) : -1;
      const escaped = escapeProse(text, before, after, cellItalic[i], atStart);
      if (atStart && !isBlank(text)) atStart = false;
      text = escaped;
    } else if (cellKind[i] === FINAL && text !== ZWSP && atStart && !isMarker(text)) atStart = false;
    line += text;
  }
  return line;
}

function lastOf(text: string): number {
  return text ? text.charCodeAt(text.length - 1) : -1;
}

function isBlank(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (!isWhitespace(text.charCodeAt(i))) return false;
  return true;
}

function isMarker(text: string): boolean {
  return text === '**' || text === '*' || text === '_' || text === '~~' || text === '__';
}

const NONE: readonly number[] = [];
function commonLength(a: readonly number[], b: readonly number[]): number {
  let k = 0;
  while (k < a.length && k < b.length && a[k] === b[k]) k++;
  return k;
}

/** markBits of the line's runs, and their links' addresses, as proseLine found them. */
let runBits = new Int32Array(16);
const runHrefs: Array<string | undefined> = [];

/** Runs merged where Discord writes the same marks, each cut into leading space, core and trailing space. */
function segmentsOf(runs: readonly Run[]): Segment[] {
  const segments: Segment[] = [];
  let text = '';
  let mask = 0;
  let href: string | undefined;
  for (let i = 0; i < runs.length; i++) {
    const run = runs[i];
    if (!run.text) continue;
    const runHref = runHrefs[i];
    const runMask = runBits[i] & (BOLD | ITALIC | STRIKE | UNDERLINE | CODE);
    if (text && runMask === mask && runHref === href) {
      text += run.text;
      continue;
    }
    if (text) pushSegments(segments, text, mask, href, isWhitespace);
    text = run.text;
    mask = runMask;
    href = runHref;
  }
  if (text) pushSegments(segments, text, mask, href, isWhitespace);
  return segments;
}



// ---------------------------------------------------------------------------------------------
// Lines, fences and quotes

const QUOTE_MARKER = '> ';
const FENCE = '```';

/** Where the writer stands after a line break: all it needs to go on from there. */
interface Checkpoint {
  /** Index of the first run not yet read. */
  readonly at: number;
  readonly out: string;
  readonly inPre: boolean;
  readonly preQuoted: boolean;
  readonly before: readonly Mark[] | undefined;
  readonly lines: number;
  readonly blanks: number;
  readonly pending: readonly number[];
}

/**
 * Writes runs line by line: a code line inside its fence (opened at the block's first code line,
 * closed before the first line that is not code or belongs to another block), a prose line with the
 * quote marker when it is quoted. A line's output is only written when the break after it (or the
 * end) is read.
 */
class Writer {
  out = '';
  inPre = false;
  preQuoted = false;
  /** The line break that started the current line. */
  before: readonly Mark[] | undefined;
  lines = 0;
  /**
   * Blank lines inside the open code block not written yet: Discord drops line breaks next to a
   * fence, so they go in the fence only if more code follows, else after it.
   */
  blanks = 0;
  /**
   * Offsets in `out` of bare `snake_case` underscores whose `_italic_` could still close: each but
   * the last was stopped only by the next (an underscore before a word character), so escaping
   * the last would let the one before it run on. Replaced, never changed: checkpoints share it.
   */
  pending: readonly number[] = NO_PENDING;
  private readonly content: Run[] = [];
  private contentPre: Extract<Mark, { kind: 'pre' }> | undefined;
  private contentQuoted = false;

  /** Starts over, from a checkpoint or from nothing (one writer serves every call). */
  reset(checkpoint: Checkpoint | undefined): this {
    this.out = checkpoint ? checkpoint.out : '';
    this.inPre = checkpoint ? checkpoint.inPre : false;
    this.preQuoted = checkpoint ? checkpoint.preQuoted : false;
    this.before = checkpoint?.before;
    this.lines = checkpoint ? checkpoint.lines : 0;
    this.blanks = checkpoint ? checkpoint.blanks : 0;
    this.pending = checkpoint ? checkpoint.pending : NO_PENDING;
    this.content.length = 0;
    this.contentPre = undefined;
    this.contentQuoted = false;
    return this;
  }

  checkpoint(at: number): Checkpoint {
    return { at, out: this.out, inPre: this.inPre, preQuoted: this.preQuoted, before: this.before, lines: this.lines, blanks: this.blanks, pending: this.pending };
  }

  /** Reads one run; true when it ended with a line break (the writer is at a line's start). */
  read(run: Run): boolean {
    const text = run.text;
    let from = 0;
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', from)) {
      if (nl > from) this.add({ text: text.slice(from, nl), marks: run.marks });
      this.finishLine(run.marks);
      this.before = run.marks;
      from = nl + 1;
    }
    if (from < text.length) this.add(from === 0 ? run : { text: text.slice(from), marks: run.marks });
    return from === text.length && from > 0;
  }

  end(): void {
    if (this.content.length || this.lines > 0) this.finishLine(undefined);
    if (this.inPre) this.closeFence();
    this.flushBlanks();
  }

  private add(run: Run): void {
    this.content.push(run);
    if (!this.contentPre) this.contentPre = preOf(run.marks);
    if (!this.contentQuoted && hasQuote(run.marks)) this.contentQuoted = true;
  }

  private closeFence(): void {
    this.out += '\n' + (this.preQuoted ? QUOTE_MARKER : '') + FENCE;
    this.inPre = false;
  }

  private flushBlanks(): void {
    for (; this.blanks > 0; this.blanks--) this.out += this.preQuoted ? '\n' + QUOTE_MARKER : '\n';
  }

  private finishLine(after: readonly Mark[] | undefined): void {
    const content = this.content;
    let pre: Extract<Mark, { kind: 'pre' }> | undefined;
    let quoted: boolean;
    if (content.length) {
      pre = this.contentPre;
      quoted = this.contentQuoted;
    } else {
      // A blank line is in a code block only between two of its lines, and a fence never opens on one.
      const before = preOf(this.before);
      pre = this.inPre && before && preOf(after) ? before : undefined;
      quoted = hasQuote(this.before) && hasQuote(after);
      if (pre) {
        this.blanks++;
        this.lines++;
        return;
      }
    }
    if (this.lines > 0) {
      // The break that ended the previous line: a fence still open closes before it unless this
      // line continues the same block (the break itself is inside the code block).
      if (this.inPre && !(pre && preOf(this.before))) this.closeFence();
      this.flushBlanks();
      this.out += '\n';
    }
    const prefix = quoted ? QUOTE_MARKER : '';
    if (pre && !this.inPre) {
      this.emit(prefix + FENCE + fenceLanguage(pre.lang) + '\n');
      this.inPre = true;
      this.preQuoted = quoted;
    }
    if (content.length) {
      if (pre) {
        let text = '';
        for (const run of content) text += run.text;
        this.emit(prefix + preText(text));
      } else {
        wroteSentinel = false;
        const line = proseLine(content);
        this.emit(prefix + line, wroteSentinel);
      }
      content.length = 0;
    } else if (quoted) this.out += QUOTE_MARKER;
    this.contentPre = undefined;
    this.contentQuoted = false;
    this.lines++;
  }

  /**
   * Appends a line (or a fence) and judges its underscores the way Discord's `_italic_` rule reads
   * them from a bare `snake_case` underscore: the italic would run to the next underscore (a pair
   * `__` and a backslash's next character are skipped) and close there if a non-word character
   * follows it. An underscore before a word character ends the search (and if it is a bare
   * `snake_case` one, starts its own); one that could close means the pending ones are escaped.
   * Lines always end before a line break or the message's end, so nothing after a line is a word
   * character.
   */
  private emit(text: string, sentinels = false): void {
    // Without a bare `snake_case` underscore pending or in the text, no underscore can matter.
    if (!sentinels && (this.pending.length === 0 || text.indexOf('_') < 0)) {
      this.out += text;
      return;
    }
    const re = sentinels ? UNDERSCORE_OR_SENTINEL : UNDERSCORE;
    re.lastIndex = 0;
    let match = re.exec(text);
    const base = this.out.length;
    let pending = this.pending;
    /** Offsets (in `out` followed by `text` with its SENTINELs as `_`) to put a backslash before. */
    let escapes: number[] | undefined;
    const n = text.length;
    for (; match; match = re.exec(text)) {
      const i = match.index;
      // After an odd number of backslashes the underscore is the second half of an escape.
      let k = i;
      while (k > 0 && text.charCodeAt(k - 1) === 0x5c) k--;
      if ((i - k) & 1) continue;
      const literal = text.charCodeAt(i) === 0;
      const after = i + 1 < n ? text.charCodeAt(i + 1) : -1;
      if (!literal && after === 0x5f) {
        re.lastIndex = i + 2; // a pair `__`
        continue;
      }
      if (!isWordCode(after)) {
        if (pending.length) (escapes ??= []).push(...pending);
        pending = NO_PENDING;
      } else if (!literal) pending = NO_PENDING;
      if (literal) pending = pending.concat(base + i);
    }
    let line = sentinels ? text.replace(SENTINELS, '_') : text;
    if (escapes) {
      for (let k = escapes.length - 1; k >= 0; k--) {
        const at = escapes[k];
        if (at >= base) line = line.slice(0, at - base) + '\\' + line.slice(at - base);
        else this.out = this.out.slice(0, at) + '\\' + this.out.slice(at);
      }
      // Every escape lies before what is still pending.
      if (pending.length) pending = pending.map((at) => at + escapes!.length);
    }
    this.pending = pending;
    this.out += line;
  }
}

const UNDERSCORE = /_/g;
const UNDERSCORE_OR_SENTINEL = /[_\u0000]/g;
const NO_PENDING: readonly number[] = [];
const SENTINELS = /\u0000/g;

const WRITER = new Writer();

/** Runs to Discord Markdown (see Writer and proseLine). */
export const serializeDiscordMarkdown: (runs: readonly Run[]) => string = resumableSerializer((resume: Checkpoint | undefined) => WRITER.reset(resume), 64);

/** Discord's limit counts the raw content, markup included; here in UTF-16 units, never fewer than Discord's code points. */
export function measureDiscordMarkdown(rendered: string): number {
  return rendered.length;
}

export const DISCORD_MARKDOWN: PlatformFormat = {
  name: 'discord-markdown',
  maxLength: DISCORD_MAX_LENGTH,
  measure: measureDiscordMarkdown,
  serialize: serializeDiscordMarkdown,
};
