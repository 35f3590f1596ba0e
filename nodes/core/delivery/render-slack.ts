/**
 * Slack mrkdwn, for the `text` of chat.postMessage / chat.update with mrkdwn on. The layout is the
 * one every platform shares (layout.ts: headings as bold lines, `• ` and `1. ` list lines, rules,
 * tables as padded monospace in a code block); this file writes its styled runs in Slack's markup.
 *
 * Escaping. Only `&`, `<` and `>` are escaped in text (`&amp;` `&lt;` `&gt;`), everywhere: prose,
 * link labels, inline code and code blocks. Every Slack control sequence — `<!channel>`, `<!here>`,
 * `<!everyone>`, `<!subteam^…>`, `<@U…>`, `<#C…>`, `<url|label>` — starts with `<`, so nothing an
 * agent writes can become a live mention or a link it did not ask for in Markdown. `@here`,
 * `@channel` and `@everyone` written as words in prose or a link label get a zero-width space after
 * the `@` as well, so they stay inert even if a caller posts with `link_names` or `parse=full`
 * (code stays verbatim).
 *
 * Markup: `*bold*`, `_italic_`, `~strike~`, `` `code` ``, code blocks as ``` fences on their own
 * lines (no language tag: Slack would show it as the first line of code), quotes as `&gt; ` at the
 * start of each quoted line (Slack keeps its text escaped, so `&gt;` at a line's start is its quote
 * marker, and a raw `>` is never sent), links as `<url|label>`, or `<url>` when the label is the
 * address itself. Underline has no mrkdwn form and is dropped; nested quotes become one quote.
 *
 * Decisions, where mrkdwn cannot say what Markdown said:
 *
 * - Word boundaries. Slack formats `*x*` only when the markers do not touch a word character on the
 *   outside (`foo*bar*baz` stays literal) and do not touch whitespace on the inside (`* x *`). So:
 *   whitespace at the edge of a styled stretch is moved outside its markers (`**bold **` becomes
 *   `*bold* `), a stretch that is only whitespace carries no markers, and where a marker's outside
 *   neighbour is anything but whitespace, a line edge or ASCII punctuation — a letter or digit
 *   (`un**believ**able`), CJK (Slack does not format next to it; seratch/ChatGPT-in-Slack pads such
 *   markers with spaces), an emoji, a literal marker character, another marker closing before one
 *   opening (`*a*_b_`) — a zero-width space (U+200B) goes between them: `un\u200b*believ*\u200bable`. Zero-width spaces only ever go OUTSIDE a
 *   marker, never between a marker and its text, so they cannot count against the "no whitespace
 *   inside" rule whichever way Slack classes them. Markers that nest sit directly against each
 *   other, bold outside italic outside strike when they cover the same text (`*_both_*`, the usual
 *   spelling of bold italic in mrkdwn). The visible text is unchanged: the zero-width space has no
 *   glyph, and slackVisibleText (slack-reader.ts) drops it; the byte measure counts it (3 bytes).
 * - Literal marker characters. Slack has no backslash escape, so a `*`, `_`, `~` or backtick in
 *   the agent's text (`\*not bold\*`, a stray `_`) could pair with another into formatting and
 *   vanish. One that could open or close (judged conservatively: any neighbour other than an ASCII
 *   letter or digit may be a boundary) and has a possible partner on the same line is written as
 *   `<!date^00000000^{_}|*>`: a date token with an invalid format, which Slack shows as its
 *   fallback text, unformatted (the escape jsx-slack uses). `snake_case`, `2 * 3`, `~5 min` have no
 *   partner and stay as written. Inside code and link labels no character is escaped this way.
 * - A line that starts with a literal `>` gets a soft hyphen (U+00AD) before its `&gt;`, so Slack
 *   does not take it for a quote (also jsx-slack's escape); it too is invisible and dropped by
 *   slackVisibleText.
 * - Code inside a quote: Slack's `>` quote is per line and cannot be relied on to hold a fence (each
 *   of its lines would need the marker, inside the code), so the code block leaves the quote — its
 *   fence and code lines carry no `&gt; ` — and the quote resumes on the next line of prose. Empty lines
 *   inside a quote carry no marker either (two quoted paragraphs read as two quotes).
 * - Inline code: its text is verbatim (only `& < >` escaped). Code that contains a backtick cannot
 *   be written as a mrkdwn code span (nothing escapes the closing backtick), so it is sent as text,
 *   its characters kept. Triple backticks never appear but as a fence: inside a code block or a
 *   link label they get zero-width spaces between them, in prose they are escaped as literals.
 * - Links: only http(s):// and mailto: become `<url|label>` (others, e.g. `tg:`, are text: Slack
 *   would not link them). In the URL, `|`, `<`, `>` and whitespace are percent-encoded and `&` is
 *   `&amp;`, so nothing in the address can end the token or start a label; in the label `& < >` are
 *   escaped and a `|` is harmless (Slack splits at the first one). Formatting inside a label is
 *   dropped (inline code in a link label too); formatting around the whole link stays around it
 *   (`*<url|label>*`). A link whose label is its URL is `<url>`.
 *
 * Length: Slack's chat.update refuses text above about 4,000 bytes (`msg_too_long`) and
 * postMessage cuts at 40,000 characters, so a part is at most SLACK_MAX_BYTES of rendered mrkdwn in
 * UTF-8 — markup, escapes and invisible helpers included. The markup depends on the neighbours (a
 * zero-width space, a literal's escape, `<url>` or `<url|label>`), so the measure is not additive
 * over runs and the format offers no additive measure: the splitter takes its generic path,
 * serialising candidate parts (still linear: delivery-scaling.test.ts). It stays cheap because the
 * serialiser resumes where its earlier call for the same part left off — the splitter grows a part
 * piece by piece, so a candidate shares all but its last lines with the one before — and measuring
 * the string just serialised returns the byte count kept while writing it. (One edge, accepted: a
 * hard cut inside a run of non-whitespace, moved back off a grapheme cluster, can leave a literal
 * marker at a part's end that now needs its escape, a few bytes more than the longer candidate the
 * splitter measured.)
 *
 * The plain fallback (`RenderedPart.plain`) is the visible text, unescaped, as for Telegram. Slack
 * reads `<…>` control sequences even with mrkdwn off, so send it through escapeSlackText.
 */
import { resumableSerializer } from './resumable-writer';
import type { Mark, PlatformFormat, Run } from './types';
import { isWhitespace } from './run-table';
import { emphasisOrders, pushSegments } from './emphasis-segments';

/** chat.update refuses text above about 4,000 bytes; plan every part for it. */
export const SLACK_MAX_BYTES = 4000;

export const ZERO_WIDTH_SPACE = '\u200b';
export const SOFT_HYPHEN = '\u00ad';
/** A literal marker character, shown as the fallback of a date token Slack cannot format. */
const LITERAL_PREFIX = '<!date^00000000^{_}|';

const BOLD = 1;
const ITALIC = 2;
const STRIKE = 4;
const CODE = 8;
/** Emphasis kinds, in the order they nest when they cover the same text (bold outermost). */
const EMPHASIS = [BOLD, ITALIC, STRIKE] as const;
const MARKER: Record<number, string> = { [BOLD]: '*', [ITALIC]: '_', [STRIKE]: '~', [CODE]: '`' };

// ---------------------------------------------------------------------------------------------
// Escaping

const SPECIAL_MENTION = /@(?=(?:here|channel|everyone)(?!\w))/gi;

const NEEDS_ESCAPE = /[&<>]/;

/** `&`, `<`, `>` as Slack asks; nothing else. (Three native passes beat one in JavaScript.) */
export function escapeSlackText(text: string): string {
  if (!NEEDS_ESCAPE.test(text)) return text;
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Prose and labels: the three escapes, and `@here`-like words made inert. */
function escapeProse(text: string): string {
  const escaped = escapeSlackText(text);
  return escaped.includes('@') ? escaped.replace(SPECIAL_MENTION, `@${ZERO_WIDTH_SPACE}`) : escaped;
}

/** Links Slack turns into `<url|label>`; the rest of SAFE_LINK (e.g. `tg:`) stays text. */
export function isSlackLink(href: string): boolean {
  return /^(https?:\/\/|mailto:)\S/i.test(href);
}

/** The address as it goes inside `<…>`: nothing in it can end the token or start a label. */
export function slackUrl(href: string): string {
  return encodedUrl(href).replace(/&/g, '&amp;');
}

function encodedUrl(href: string): string {
  return /[|<>\s]/.test(href) ? href.replace(/[|<>\s]/g, (ch) => encodeURIComponent(ch)) : href;
}

function linkToken(href: string, label: string): string {
  const url = encodedUrl(href);
  if (label === url && /^https?:/i.test(url)) return `<${url.replace(/&/g, '&amp;')}>`;
  return `<${url.replace(/&/g, '&amp;')}|${noFence(escapeProse(label))}>`;
}

/** No three backticks in a row: a zero-width space between each two. */
function noFence(text: string): string {
  return text.includes('``') ? text.replace(/``/g, `\`${ZERO_WIDTH_SPACE}\``) : text;
}

/** Code block text: escaped, and no three backticks in a row (they would close the fence). */
function preText(text: string): string {
  return noFence(escapeSlackText(text));
}

// ---------------------------------------------------------------------------------------------
// Marks

const LINK = 16;
const QUOTE = 32;
const PRE = 64;

/** The link `markBits` last found (its LINK bit set), read right after the call. */
let foundHref = '';

/**
 * What Slack can write of a run's marks, as bits: formatting inside a link is dropped (the link
 * stands for its label), nothing sits inside code, a mark repeated inside itself counts once, only
 * the outermost link counts. With LINK set, the link's address is in `foundHref`. (Bits rather
 * than an object: this runs for every run of every candidate part.)
 */
function markBits(marks: readonly Mark[]): number {
  let bits = 0;
  let closed = false; // inside a link or code: nothing more goes in
  let linkSeen = false;
  for (let i = 0; i < marks.length; i++) {
    const mark = marks[i];
    switch (mark.kind) {
      case 'pre':
        bits |= PRE;
        break;
      case 'quote':
        bits |= QUOTE;
        break;
      case 'link':
        if (closed || linkSeen) break;
        linkSeen = true;
        if (isSlackLink(mark.href)) {
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
    }
  }
  return bits;
}

function hasPre(marks: readonly Mark[] | undefined): boolean {
  if (!marks) return false;
  for (let i = 0; i < marks.length; i++) if (marks[i].kind === 'pre') return true;
  return false;
}

// ---------------------------------------------------------------------------------------------
// Characters around markers

function isSpaceLike(code: number): boolean {
  return code === 0x200b || isWhitespace(code);
}

function isAsciiPunctuation(code: number): boolean {
  return (code >= 0x21 && code <= 0x2f) || (code >= 0x3a && code <= 0x40) || (code >= 0x5b && code <= 0x60) || (code >= 0x7b && code <= 0x7e);
}

function isMarkerChar(code: number): boolean {
  return code === 0x2a || code === 0x5f || code === 0x7e || code === 0x60;
}

/** May a marker's outside touch this character (undefined: the line's edge) without a zero-width space? */
function safeOutside(ch: string | undefined): boolean {
  if (!ch) return true;
  const code = ch.charCodeAt(0);
  return isSpaceLike(code) || (isAsciiPunctuation(code) && !isMarkerChar(code));
}

function isAsciiAlphanumeric(code: number): boolean {
  return (code >= 0x30 && code <= 0x39) || (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a);
}

/** Conservatively: could Slack take this neighbour for a word boundary? */
function mayBeBoundary(ch: string | undefined): boolean {
  return !ch || !isAsciiAlphanumeric(ch.charCodeAt(0));
}

/** Conservatively: could Slack take this neighbour for the text inside a marker? */
function mayBeInside(ch: string | undefined): boolean {
  return !!ch && !isWhitespace(ch.charCodeAt(0));
}

// ---------------------------------------------------------------------------------------------
// One line of prose

/** A stretch of a line with the same writable marks; `core` stretches start and end with a non-space. */
interface Segment {
  text: string;
  mask: number;
  href: string | undefined;
  core: boolean;
}

const TEXT = 0;
const OPENER = 1;
const CLOSER = 2;
const LITERAL = 3;

/** Where a prose line is written: a string, or cells when literal markers must be judged. */
interface Sink {
  push(text: string, type: number, char?: string): void;
  /** Prose: `& < >` escaped (and, for cells, each `*`, `_`, `~`, backtick a cell of its own). */
  prose(text: string): void;
  /** The last character written, undefined at the line's start. */
  readonly last: string | undefined;
  readonly empty: boolean;
  join(): string;
}

/** The usual line: no literal marker characters, so markers are written straight into a string. */
class StringSink implements Sink {
  private out = '';
  // Kept, not read back from `out`: reading a character of a concatenated string flattens it.
  last: string | undefined;

  push(text: string): void {
    this.out += text;
    this.last = text[text.length - 1];
  }

  prose(text: string): void {
    const escaped = escapeProse(text);
    this.out += escaped;
    this.last = escaped[escaped.length - 1];
  }

  get empty(): boolean {
    return !this.out;
  }

  join(): string {
    return this.out;
  }
}

/** The line's output as cells, so literal marker characters can be judged by their neighbours. */
class Cells implements Sink {
  readonly text: string[] = [];
  readonly type: number[] = [];
  readonly char: string[] = [];

  push(text: string, type: number, char = ''): void {
    this.text.push(text);
    this.type.push(type);
    this.char.push(char);
  }

  get last(): string | undefined {
    const text = this.text[this.text.length - 1];
    return text ? text[text.length - 1] : undefined;
  }

  get empty(): boolean {
    return this.text.length === 0;
  }

  prose(text: string): void {
    let from = 0;
    for (let i = 0; i < text.length; i++) {
      if (!isMarkerChar(text.charCodeAt(i))) continue;
      if (i > from) this.push(escapeProse(text.slice(from, i)), TEXT);
      this.push(text[i], LITERAL, text[i]);
      from = i + 1;
    }
    if (from < text.length) this.push(escapeProse(from ? text.slice(from) : text), TEXT);
  }

  join(): string {
    this.escapeLiterals();
    return this.text.join('');
  }

  /**
   * A literal marker that could open and has a possible closer after it on the line, or could
   * close and has a possible opener before it, is escaped. Our own markers are certain openers and
   * closers; neighbours are judged on the cells as written (an escape turns a literal into `<…>`,
   * ASCII punctuation like the literal itself, so the judgement of its neighbours stands).
   */
  private escapeLiterals(): void {
    const n = this.text.length;
    const prevChar = (i: number): string | undefined => (i > 0 ? this.text[i - 1][this.text[i - 1].length - 1] : undefined);
    const nextChar = (i: number): string | undefined => (i + 1 < n ? this.text[i + 1][0] : undefined);
    const canOpen = new Uint8Array(n);
    const canClose = new Uint8Array(n);
    const chars = new Set<string>();
    for (let i = 0; i < n; i++) {
      const type = this.type[i];
      if (type === OPENER) canOpen[i] = 1;
      else if (type === CLOSER) canClose[i] = 1;
      else if (type === LITERAL) {
        const before = prevChar(i);
        const after = nextChar(i);
        if (mayBeBoundary(before) && mayBeInside(after)) canOpen[i] = 1;
        if (mayBeInside(before) && mayBeBoundary(after)) canClose[i] = 1;
        chars.add(this.char[i]);
      }
    }
    // Three backticks in a row would be read as a fence wherever they stand: all go.
    for (let i = 0; i < n; ) {
      let j = i;
      while (j < n && this.type[j] === LITERAL && this.char[j] === '`') j++;
      if (j - i >= 3) for (let k = i; k < j; k++) this.text[k] = `${LITERAL_PREFIX}\`>`;
      i = j > i ? j : i + 1;
    }
    for (const ch of chars) {
      // Closers of `ch` after each cell; openers before it, counted as the loop goes.
      const closersAfter = new Uint8Array(n + 1);
      for (let i = n - 1; i >= 0; i--) closersAfter[i] = closersAfter[i + 1] || (this.char[i] === ch && canClose[i] ? 1 : 0);
      let openerBefore = false;
      for (let i = 0; i < n; i++) {
        if (this.char[i] !== ch) continue;
        if (this.type[i] === LITERAL && ((canOpen[i] && closersAfter[i + 1]) || (canClose[i] && openerBefore))) {
          this.text[i] = `${LITERAL_PREFIX}${ch}>`;
        }
        if (canOpen[i]) openerBefore = true;
      }
    }
  }
}

const HAS_MARKER_CHAR = /[*_~`]/;

/** The prose of one line (no quote marker): marks opened and closed at word boundaries. */
function proseLine(runs: readonly Run[]): string {
  if (runs.length === 1) {
    // The common line: one unformatted run with nothing that needs a cell of its own.
    const run = runs[0];
    if (!(markBits(run.marks) & (BOLD | ITALIC | STRIKE | CODE | LINK)) && !HAS_MARKER_CHAR.test(run.text)) {
      const text = escapeProse(run.text);
      return text.charCodeAt(0) === 0x26 && text.startsWith('&gt;') ? SOFT_HYPHEN + text : text;
    }
  }
  const segments = segmentsOf(runs);
  let literals = false;
  let nested = false;
  for (const segment of segments) {
    if (segment.core && !segment.href && !(segment.mask & CODE) && HAS_MARKER_CHAR.test(segment.text)) literals = true;
    const emphasis = segment.mask & (BOLD | ITALIC | STRIKE);
    if (emphasis & (emphasis - 1)) nested = true;
  }
  const orders = nested ? emphasisOrders(segments, EMPHASIS) : singleOrders(segments);
  const cells: Sink = literals ? new Cells() : new StringSink();
  const open: number[] = [];
  let codeOpen = false;
  // For whitespace: the emphasis order of the next core segment (what may stay open across it).
  let nextOrder: readonly number[] = NONE;
  const nextOrders: Array<readonly number[]> = new Array(segments.length);
  for (let i = segments.length - 1; i >= 0; i--) {
    nextOrders[i] = nextOrder;
    if (segments[i].core) nextOrder = orders[i];
  }
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
      if (codeOpen || keep < open.length) closeTo(cells, open, codeOpen, keep);
      codeOpen = false;
      cells.push(segment.text, TEXT);
      continue;
    }
    const order = orders[i];
    const keep = commonLength(open, order);
    const closing = codeOpen || keep < open.length;
    const code = (segment.mask & CODE) !== 0;
    const opening = keep < order.length || code;
    const content = segment.href ? linkToken(segment.href, segment.text) : code ? escapeSlackText(segment.text) : undefined;
    if (closing) closeTo(cells, open, codeOpen, keep);
    codeOpen = false;
    if (opening) {
      // Our markers sit directly against each other only when they nest; a closer before an
      // opener, or an opener after a character Slack may take for part of a word, gets a boundary.
      if (closing || !safeOutside(cells.last)) cells.push(ZERO_WIDTH_SPACE, TEXT);
      for (let k = keep; k < order.length; k++) {
        open.push(order[k]);
        cells.push(MARKER[order[k]], OPENER, MARKER[order[k]]);
      }
      if (code) {
        cells.push('`', OPENER, '`');
        codeOpen = true;
      }
    } else if (closing && !safeOutside((content ?? segment.text)[0])) {
      // The outermost closer's outside is this segment's first character.
      cells.push(ZERO_WIDTH_SPACE, TEXT);
    }
    if (content !== undefined) cells.push(content, TEXT);
    else {
      if (cells.empty && segment.text.charCodeAt(0) === 0x3e) cells.push(SOFT_HYPHEN, TEXT);
      cells.prose(segment.text);
    }
  }
  closeTo(cells, open, codeOpen, 0);
  return cells.join();
}

/** Closes an open code span, then emphasis down to the first `keep` marks, innermost first. */
function closeTo(cells: Sink, open: number[], code: boolean, keep: number): void {
  if (code) cells.push('`', CLOSER, '`');
  for (let k = open.length - 1; k >= keep; k--) cells.push(MARKER[open[k]], CLOSER, MARKER[open[k]]);
  open.length = keep;
}

const NONE: readonly number[] = [];
const ONLY: Record<number, readonly number[]> = { [BOLD]: [BOLD], [ITALIC]: [ITALIC], [STRIKE]: [STRIKE] };

/** No segment carries two emphasis marks: each core's order is its one mark. */
function singleOrders(segments: readonly Segment[]): Array<readonly number[]> {
  const orders: Array<readonly number[]> = new Array(segments.length);
  for (let i = 0; i < segments.length; i++) orders[i] = (segments[i].core && ONLY[segments[i].mask & (BOLD | ITALIC | STRIKE)]) || NONE;
  return orders;
}

function commonLength(a: readonly number[], b: readonly number[]): number {
  let k = 0;
  while (k < a.length && k < b.length && a[k] === b[k]) k++;
  return k;
}

/** Runs merged where Slack writes the same marks, each cut into leading space, core and trailing space. */
function segmentsOf(runs: readonly Run[]): Segment[] {
  const segments: Segment[] = [];
  let text = '';
  let mask = 0;
  let href: string | undefined;
  for (const run of runs) {
    if (!run.text) continue;
    const bits = markBits(run.marks);
    const runHref = bits & LINK ? foundHref : undefined;
    let runMask = bits & (BOLD | ITALIC | STRIKE | CODE);
    if (runMask & CODE && run.text.includes('`')) runMask &= ~CODE;
    if (text && runMask === mask && runHref === href) {
      text += run.text;
      continue;
    }
    if (text) pushSegments(segments, text, mask, href, isSpaceLike);
    text = run.text;
    mask = runMask;
    href = runHref;
  }
  if (text) pushSegments(segments, text, mask, href, isSpaceLike);
  return segments;
}



// ---------------------------------------------------------------------------------------------
// Lines, fences and quotes

/** One line's output, the quote marker or the code escaping included. */
function lineOut(runs: readonly Run[], pre: boolean): string {
  if (pre) {
    let text = '';
    for (const run of runs) text += run.text;
    return preText(text);
  }
  for (const run of runs) for (const mark of run.marks) if (mark.kind === 'quote') return '&gt; ' + proseLine(runs);
  return proseLine(runs);
}

const FENCE_OPEN = '```\n';
const FENCE_CLOSE = '\n```';

/** Where the writer stands after a line break: all it needs to go on from there. */
interface Checkpoint {
  /** Index of the first run not yet read. */
  readonly at: number;
  readonly out: string;
  readonly bytes: number;
  readonly inPre: boolean;
  readonly before: readonly Mark[] | undefined;
  readonly lines: number;
}

/**
 * Writes runs line by line: a code line inside its fence (opened at the first code line, closed
 * before the first line that is not code or belongs to another block), a prose line with the
 * quote marker when it is quoted. An empty line between two lines of one code block stays in the
 * fence. A line's output is only written when the break after it (or the end) is read.
 */
class Writer {
  out = '';
  bytes = 0;
  inPre = false;
  /** The line break that started the current line. */
  before: readonly Mark[] | undefined;
  lines = 0;
  private readonly content: Run[] = [];
  private contentPre = false;

  static from(checkpoint: Checkpoint | undefined): Writer {
    const writer = new Writer();
    if (checkpoint) {
      writer.out = checkpoint.out;
      writer.bytes = checkpoint.bytes;
      writer.inPre = checkpoint.inPre;
      writer.before = checkpoint.before;
      writer.lines = checkpoint.lines;
    }
    return writer;
  }

  checkpoint(at: number): Checkpoint {
    return { at, out: this.out, bytes: this.bytes, inPre: this.inPre, before: this.before, lines: this.lines };
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
    if (this.inPre) this.write(FENCE_CLOSE);
    this.inPre = false;
  }

  private add(run: Run): void {
    this.content.push(run);
    if (!this.contentPre && hasPre(run.marks)) this.contentPre = true;
  }

  private write(text: string): void {
    this.out += text;
    this.bytes += text.length; // ASCII only
  }

  private finishLine(after: readonly Mark[] | undefined): void {
    const content = this.content;
    const pre = content.length ? this.contentPre : hasPre(this.before) && hasPre(after);
    if (this.lines > 0) {
      // The break that ended the previous line: a fence still open closes before it unless this
      // line continues the same block (the break itself is inside the code block).
      if (this.inPre && !(pre && hasPre(this.before))) {
        this.write(FENCE_CLOSE);
        this.inPre = false;
      }
      this.write('\n');
    }
    if (pre && !this.inPre) {
      this.write(FENCE_OPEN);
      this.inPre = true;
    }
    if (content.length) {
      const line = lineOut(content, pre);
      this.out += line;
      this.bytes += Buffer.byteLength(line, 'utf8');
      content.length = 0;
    }
    this.contentPre = false;
    this.lines++;
  }
}

/** The last string serialised and its UTF-8 length, so measuring it right after costs nothing. */
let last: { text: string; bytes: number } = { text: '', bytes: 0 };

/** Runs to mrkdwn (see Writer and proseLine). */
export const serializeSlackMrkdwn: (runs: readonly Run[]) => string = resumableSerializer(
  (resume: Checkpoint | undefined) => Writer.from(resume),
  8,
  (writer) => (last = { text: writer.out, bytes: writer.bytes }),
);

/** Slack's limit counts the rendered mrkdwn in UTF-8 bytes, markup included. */
export function measureSlackMrkdwn(rendered: string): number {
  return rendered === last.text ? last.bytes : Buffer.byteLength(rendered, 'utf8');
}

export const SLACK_MRKDWN: PlatformFormat = {
  name: 'slack-mrkdwn',
  maxLength: SLACK_MAX_BYTES,
  measure: measureSlackMrkdwn,
  serialize: serializeSlackMrkdwn,
};
