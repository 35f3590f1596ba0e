/**
 * WhatsApp text, for the body of a text message. The layout is the one every platform shares
 * (layout.ts: headings as bold lines, `• ` and `1. ` list lines, rules, tables as padded monospace
 * in a code block); this file writes its styled runs in the formatting WhatsApp draws.
 * whatsapp-reader.ts reads a body back the way this file assumes a phone does.
 *
 * Markup: `*bold*`, `_italic_`, `~strike~`, `` `code` ``; code blocks (and tables) as ``` fences on
 * lines of their own, without a language (WhatsApp would show it as the first line of code);
 * quotes as `> ` at the start of each quoted line; bullets as `- ` (WhatsApp draws its own bullet
 * for them, so the visible text keeps the layout's `• `), numbered items as the layout writes
 * them (`1. `, a list WhatsApp draws with the number as written). Underline has no markup and is
 * dropped; nested quotes become one; formatting nests bold outside italic outside strike where it
 * covers the same text (`*_x_*`), else the stretch that started first outside.
 *
 * Word boundaries. WhatsApp applies a marker only at a word boundary: an opening one after a
 * line's start, whitespace or punctuation and before a non-space; a closing one after a non-space
 * and before a line's end, whitespace or punctuation; inline markers within one line. So
 * whitespace at the edge of a styled stretch goes outside its markers (`**bold **` is `*bold* `), a
 * stretch of only whitespace gets none, and a stretch is written with its markers only where the
 * characters outside it are certainly boundaries: a line's edge, whitespace, or punctuation — ASCII
 * punctuation other than the four marker characters, or Unicode punctuation (`“`, `¿`, `、`).
 * Elsewhere (`un**believ**able`, `日本**語**`, `😀**x**`, `**a**_b_`) nothing can make WhatsApp
 * apply the marker — there is no invisible boundary character (see below) — so the stretch is
 * written without it: its text is kept, its formatting lost, never any gained. So is a stretch that
 * begins or ends with a literal marker character, or touches one outside (`**x**_`), as that
 * character would need the guard below right against the marker. A code span obeys the same rules.
 *
 * Literal marker characters. WhatsApp has no escape character, so a `*`, `_`, `~` or backtick in
 * the agent's text (`\*not bold\*`, `\_private\_`, `~5 min`, a stray backtick) could pair with
 * another into formatting, and vanish. Each one that could open or close — judged
 * conservatively: any neighbour but a letter, digit or combining mark may be a boundary, any but
 * whitespace may be text — gets a WORD JOINER (U+2060, invisible, no width, no line break) on
 * both sides: `⁠*⁠not bold⁠*⁠`. That makes the marker inert whichever way WhatsApp classes the
 * joiner: taken as part of a word (what its Unicode name says it is), it is no boundary, so the
 * marker can neither open nor close; taken as whitespace, the marker is not against text, so it
 * can neither open nor close either. whatsapp-reader.ts reads both ways, and the property tests
 * check that both readings agree. (A client that took the joiner for punctuation would defeat any
 * invisible character: WhatsApp offers no way to write a marker character it promises to show.)
 * The joiner never goes inside a grapheme cluster: a marker character followed by marks that
 * attach to it (the keycap emoji `*️⃣`) gets its second joiner after them, so the emoji stays
 * whole — and a client taking the joiner for a space could still see that `*` open.
 * `snake_case_name` and `2 * 3` need no joiner (letters, or spaces, on both sides) and stay as
 * written. Three backticks in a row become ``⁠`⁠`⁠`⁠`` this way too, so the agent's text never
 * holds a fence. At a line's start (after a quote marker and any indentation) a `-` or `*` before
 * a space and any `>` get a joiner before them, so WhatsApp does not take the line for a list item
 * or a quote (its line rules look at the characters themselves, and the joiner is none of them);
 * a `• ` there is written `- `, WhatsApp's own bullet.
 *
 * Code. Code blocks are verbatim but for three backticks in a row, which get a joiner between each
 * two (a monospace block ends at the first ```). Inline code is verbatim between single backticks;
 * code holding a backtick cannot be a code span (nothing ends it but a backtick), so it is written
 * as text, its characters kept (and guarded as above). A code block inside a quote leaves the
 * quote: WhatsApp's `> ` is per line and a monospace block is not, so its fences and lines carry
 * no `> `, and the quote resumes on the next line of prose. Blank lines in a quote carry no marker.
 *
 * Links. WhatsApp links addresses in the text by itself and has no link markup, so a link is
 * written `label (address)`, the label formatted as it is in the Markdown and the address in
 * parentheses with the formatting around the link; a link whose label is its own address (a bare
 * URL, an autolink, an image without alt text; `www.` and e-mail autolinks too) is the address
 * alone; an image is `alt (address)`. Only http(s), mailto and tel links are written so (mailto
 * and tel as the bare address or number); any other is its label alone. An address is written so
 * that none of its characters can take part in formatting: a marker character in it that could
 * open or close (judged as for literals, the address on its own) is percent-encoded
 * (`https://x.io/%5Fprivate%5F/`, the same address to the server) — a joiner could end the link
 * WhatsApp finds there, or become part of it. In the parenthesised form `(`, `)` and whitespace are percent-encoded too,
 * so the address ends where the parenthesis closes. A link split across lines gets its address on
 * each line; so does each piece of a link a cut splits.
 *
 * Length: a body is at most 4,096 characters; counted here in UTF-16 units of the whole body,
 * markup, joiners and addresses included (never fewer than WhatsApp's count). The markup depends
 * on the neighbours, so there is no additive measure: the splitter serialises candidate parts, and
 * the serialiser resumes where its earlier call for the same part left off (as render-slack.ts
 * does). A part holding a piece of a code block gets complete fences of its own: each part is
 * serialised alone, its first code line opening a fence and its end closing it. (The one part the
 * limit cannot hold: a link whose address alone is longer than a message, which every piece of its
 * label carries.)
 *
 * The plain fallback (`RenderedPart.plain`) is the layout's visible text, as for the other
 * renderers: link labels without their addresses.
 */
import { resumableSerializer } from './resumable-writer';
import type { Mark, PlatformFormat, Run } from './types';
import { isWhitespace } from './run-table';
import { emphasisOrders, pushSegments, type StyledSegment } from './emphasis-segments';

/** WhatsApp refuses a text body above 4,096 characters. */
export const WHATSAPP_MAX_LENGTH = 4096;

/** U+2060 WORD JOINER: invisible, and put on both sides of a marker character that must stay literal. */
export const WORD_JOINER = '\u2060';

const BOLD = 1;
const ITALIC = 2;
const STRIKE = 4;
const CODE = 8;
/** Emphasis kinds, in the order they nest when they cover the same text (bold outermost). */
const EMPHASIS = [BOLD, ITALIC, STRIKE] as const;
const MARKER: Record<number, string> = { [BOLD]: '*', [ITALIC]: '_', [STRIKE]: '~' };

// ---------------------------------------------------------------------------------------------
// Characters (judged by UTF-16 unit: half a surrogate pair is neither a letter nor punctuation,
// which only ever makes the judgement more careful)

function isAsciiAlphanumeric(code: number): boolean {
  return (code >= 0x30 && code <= 0x39) || (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a);
}

function isAsciiPunctuation(code: number): boolean {
  return (code >= 0x21 && code <= 0x2f) || (code >= 0x3a && code <= 0x40) || (code >= 0x5b && code <= 0x60) || (code >= 0x7b && code <= 0x7e);
}

function isMarkerCode(code: number): boolean {
  return code === 0x2a || code === 0x5f || code === 0x7e || code === 0x60;
}

const LETTER_DIGIT_OR_MARK = /[\p{L}\p{N}\p{M}]/u;
const PUNCTUATION = /\p{P}/u;

/** Could WhatsApp take this neighbour (undefined: the line's edge) for a word boundary? */
function mayBeBoundary(ch: string | undefined): boolean {
  if (ch === undefined) return true;
  const code = ch.charCodeAt(0);
  if (code < 0x80) return !isAsciiAlphanumeric(code);
  return !LETTER_DIGIT_OR_MARK.test(ch);
}

/** Could WhatsApp take this neighbour for text a marker may stand against? */
function mayBeInside(ch: string | undefined): boolean {
  return ch !== undefined && !isWhitespace(ch.charCodeAt(0));
}

/** Is this neighbour of a marker of ours a word boundary however WhatsApp classes characters? */
function certainBoundary(ch: string | undefined): boolean {
  if (ch === undefined) return true;
  const code = ch.charCodeAt(0);
  if (isWhitespace(code)) return true;
  if (code < 0x80) return isAsciiPunctuation(code) && !isMarkerCode(code);
  return PUNCTUATION.test(ch);
}

/** Marks that attach to the character before them: a joiner never goes between. */
function isAttached(code: number): boolean {
  return (
    (code >= 0x300 && code <= 0x36f) ||
    (code >= 0x1ab0 && code <= 0x1aff) ||
    (code >= 0x1dc0 && code <= 0x1dff) ||
    (code >= 0x20d0 && code <= 0x20ff) ||
    (code >= 0xfe00 && code <= 0xfe0f) ||
    (code >= 0xfe20 && code <= 0xfe2f) ||
    code === 0x200d
  );
}

/** Is the marker character at `i` able to open or close, judged conservatively? */
function mayAct(before: string | undefined, after: string | undefined): boolean {
  return (mayBeBoundary(before) && mayBeInside(after)) || (mayBeInside(before) && mayBeBoundary(after));
}

// ---------------------------------------------------------------------------------------------
// Addresses

/** Links WhatsApp can show: their address goes in the text, where WhatsApp links it. */
export function isWhatsAppLink(href: string): boolean {
  return /^(https?:\/\/|mailto:|tel:)\S/i.test(href);
}

const HEX = '0123456789ABCDEF';

function percent(code: number): string {
  return '%' + HEX[code >> 4] + HEX[code & 15];
}

/**
 * An address with each marker character that could open or close percent-encoded (judged on the
 * address alone, its ends taken for boundaries); `parenthesised`: `(`, `)` and whitespace too.
 */
function encodeAddress(address: string, parenthesised: boolean): string {
  let out = '';
  let from = 0;
  for (let i = 0; i < address.length; i++) {
    const code = address.charCodeAt(i);
    let encode = false;
    if (isMarkerCode(code)) encode = mayAct(i > 0 ? address[i - 1] : undefined, i + 1 < address.length ? address[i + 1] : undefined);
    else if (parenthesised) encode = code === 0x28 || code === 0x29 || isWhitespace(code);
    if (!encode) continue;
    out += address.slice(from, i) + (code < 0x80 ? percent(code) : encodeURIComponent(address[i]));
    from = i + 1;
  }
  return from === 0 ? address : out + address.slice(from);
}

/** The address of a link as it goes in parentheses after its label: mailto and tel as the bare address. */
export function whatsappUrl(href: string): string {
  const bare = href.replace(/^(mailto:|tel:)/i, '');
  return encodeAddress(bare, true);
}

function normalAddress(text: string): string {
  let out = text.endsWith('/') ? text.slice(0, -1) : text;
  try {
    out = decodeURI(out);
  } catch {
    // as written
  }
  return out.toLowerCase();
}

/**
 * When a link's label is its own address (`https://x.io`, or `www.x.io` for `http://www.x.io`,
 * `a@b.c` for `mailto:a@b.c`), the label as it is written alone; else undefined.
 */
export function whatsappAddress(label: string, href: string): string | undefined {
  if (!label || /\s/.test(label)) return undefined;
  const a = normalAddress(label);
  const b = normalAddress(href);
  if (a !== b && 'http://' + a !== b && 'mailto:' + a !== b && 'tel:' + a !== b) return undefined;
  return encodeAddress(label, false);
}

/**
 * The same links come back on every candidate part the splitter measures (it serialises a part's
 * last lines again and again as it grows it): their written forms are kept, a few hundred at most.
 */
const addresses = new Map<string, string | null>();
const suffixes = new Map<string, string>();
const MAX_CACHED = 512;

function addressOf(label: string, href: string): string | undefined {
  const key = label + '\u0000' + href;
  let address = addresses.get(key);
  if (address === undefined) {
    if (addresses.size >= MAX_CACHED) addresses.clear();
    address = whatsappAddress(label, href) ?? null;
    addresses.set(key, address);
  }
  return address ?? undefined;
}

/** ` (address)`, what follows a link's label. */
function suffixOf(href: string): string {
  let suffix = suffixes.get(href);
  if (suffix === undefined) {
    if (suffixes.size >= MAX_CACHED) suffixes.clear();
    suffix = ` (${whatsappUrl(href)})`;
    suffixes.set(href, suffix);
  }
  return suffix;
}

// ---------------------------------------------------------------------------------------------
// Marks

type LinkMark = Extract<Mark, { kind: 'link' }>;

/** The run's link, if WhatsApp can show its address (only the outermost link counts). */
function linkOf(marks: readonly Mark[]): LinkMark | undefined {
  for (let i = 0; i < marks.length; i++) {
    const mark = marks[i];
    if (mark.kind === 'link') return isWhatsAppLink(mark.href) ? mark : undefined;
  }
  return undefined;
}

/** What WhatsApp can write of a run's marks, as bits (code holding a backtick is no code span). */
function maskOf(run: Run, upTo = run.marks.length): number {
  let bits = 0;
  const marks = run.marks;
  for (let i = 0; i < upTo; i++) {
    switch (marks[i].kind) {
      case 'bold':
        bits |= BOLD;
        break;
      case 'italic':
        bits |= ITALIC;
        break;
      case 'strike':
        bits |= STRIKE;
        break;
      case 'code':
        if (run.text.indexOf('`') < 0) bits |= CODE;
        break;
    }
  }
  return bits;
}

/** The formatting around a link: the marks before it. */
function outerMask(run: Run, link: LinkMark): number {
  return maskOf(run, run.marks.indexOf(link)) & ~CODE;
}

function hasInline(marks: readonly Mark[]): boolean {
  for (let i = 0; i < marks.length; i++) {
    const kind = marks[i].kind;
    if (kind === 'bold' || kind === 'italic' || kind === 'strike' || kind === 'code' || kind === 'link') return true;
  }
  return false;
}

function hasPre(marks: readonly Mark[] | undefined): boolean {
  if (!marks) return false;
  for (let i = 0; i < marks.length; i++) if (marks[i].kind === 'pre') return true;
  return false;
}

function hasQuote(marks: readonly Mark[]): boolean {
  for (let i = 0; i < marks.length; i++) if (marks[i].kind === 'quote') return true;
  return false;
}

// ---------------------------------------------------------------------------------------------
// One line of prose

/** `href` is ADDRESS for an address, written as it is; undefined for prose. */
type Segment = StyledSegment;
const ADDRESS = 'address';

/**
 * The line's runs as segments: a link's label as its runs and then ` (address)` with the
 * formatting around the link, or the address alone when the label is the address; runs merged
 * where WhatsApp writes the same marks; each cut into leading space, core and trailing space.
 */
function segmentsOf(runs: readonly Run[]): Segment[] {
  const segments: Segment[] = [];
  pending = segments;
  pendingText = '';
  for (let i = 0; i < runs.length; ) {
    const run = runs[i];
    const link = linkOf(run.marks);
    if (!link) {
      addPiece(run.text, maskOf(run), undefined);
      i++;
      continue;
    }
    let j = i + 1;
    while (j < runs.length && linkOf(runs[j].marks) === link) j++;
    let label = '';
    for (let k = i; k < j; k++) label += runs[k].text;
    const address = addressOf(label, link.href);
    if (address !== undefined) {
      let common = BOLD | ITALIC | STRIKE;
      for (let k = i; k < j; k++) common &= maskOf(runs[k]);
      addPiece(address, common, ADDRESS);
    } else {
      for (let k = i; k < j; k++) addPiece(runs[k].text, maskOf(runs[k]), undefined);
      addPiece(suffixOf(link.href), outerMask(runs[j - 1], link), ADDRESS);
    }
    i = j;
  }
  if (pendingText) pushSegments(segments, pendingText, pendingMask, pendingKind, isWhitespace);
  return segments;
}

/** segmentsOf's piece being merged: consecutive pieces with the same marks and kind become one. */
let pending: Segment[] = [];
let pendingText = '';
let pendingMask = 0;
let pendingKind: string | undefined;

function addPiece(piece: string, mask: number, kind: string | undefined): void {
  if (!piece) return;
  if (pendingText && mask === pendingMask && kind === pendingKind) {
    pendingText += piece;
    return;
  }
  if (pendingText) pushSegments(pending, pendingText, pendingMask, pendingKind, isWhitespace);
  pendingText = piece;
  pendingMask = mask;
  pendingKind = kind;
}

function firstChar(segment: Segment | undefined): string | undefined {
  return segment ? segment.text[0] : undefined;
}

function lastChar(segment: Segment | undefined): string | undefined {
  return segment ? segment.text[segment.text.length - 1] : undefined;
}

function isProse(segment: Segment): boolean {
  return segment.href === undefined && !(segment.mask & CODE);
}

/**
 * Drops the formatting WhatsApp could not apply: a code span, or a stretch of one emphasis, whose
 * outside neighbours are not both certainly boundaries, or (emphasis) whose text begins or ends
 * with a literal marker character. Each is judged on the text alone, not on other formatting, so
 * one pass decides.
 */
function dropUnwritable(segments: Segment[]): void {
  const n = segments.length;
  for (let i = 0; i < n; i++) {
    const segment = segments[i];
    if (segment.core && segment.mask & CODE && !(certainBoundary(lastChar(segments[i - 1])) && certainBoundary(firstChar(segments[i + 1])))) {
      segment.mask &= ~CODE;
    }
  }
  for (const kind of EMPHASIS) {
    for (let i = 0; i < n; ) {
      if (!(segments[i].mask & kind)) {
        i++;
        continue;
      }
      let j = i;
      while (j < n && segments[j].mask & kind) j++;
      let a = i;
      while (a < j && !segments[a].core) a++;
      if (a < j) {
        let b = j - 1;
        while (!segments[b].core) b--;
        const first = segments[a];
        const last = segments[b];
        const ok =
          certainBoundary(lastChar(segments[a - 1])) &&
          certainBoundary(firstChar(segments[b + 1])) &&
          !(isProse(first) && isMarkerCode(first.text.charCodeAt(0))) &&
          !(isProse(last) && isMarkerCode(last.text.charCodeAt(last.text.length - 1)));
        if (!ok) for (let k = i; k < j; k++) segments[k].mask &= ~kind;
      }
      i = j;
    }
  }
}

/** Cell kinds: prose (its literal marker characters still to guard), final text, a marker of ours. */
const PROSE = 0;
const FINAL = 1;
const MARK = 2;

const cellText: string[] = [];
const cellKind: number[] = [];
let cells = 0;

function push(text: string, kind: number): void {
  cellText[cells] = text;
  cellKind[cells] = kind;
  cells++;
}

const NONE: readonly number[] = [];
const ONLY: Record<number, readonly number[]> = { [BOLD]: [BOLD], [ITALIC]: [ITALIC], [STRIKE]: [STRIKE] };

function commonLength(a: readonly number[], b: readonly number[]): number {
  let k = 0;
  while (k < a.length && k < b.length && a[k] === b[k]) k++;
  return k;
}

const HAS_MARKER_CHAR = /[*_~`]/;
/** A line whose first visible character may be line syntax: a list item, a quote, the layout's bullet. */
const LINE_SYNTAX = /^\s*[-*>•]/;

/** The prose of one line (no quote marker). */
function proseLine(runs: readonly Run[]): string {
  if (runs.length === 1) {
    // The common line: one unformatted run, nothing in it to guard.
    const run = runs[0];
    if (!hasInline(run.marks) && !HAS_MARKER_CHAR.test(run.text) && !LINE_SYNTAX.test(run.text)) return run.text;
  }
  const segments = segmentsOf(runs);
  let any = 0;
  for (let i = 0; i < segments.length; i++) any |= segments[i].mask;
  if (any) dropUnwritable(segments);
  let nested = false;
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i];
    const emphasis = segment.mask & (BOLD | ITALIC | STRIKE);
    if (segment.core && emphasis & (emphasis - 1)) nested = true;
  }
  const n = segments.length;
  let orders: Array<readonly number[]>;
  if (nested) orders = emphasisOrders(segments, EMPHASIS);
  else {
    orders = new Array(n);
    for (let i = 0; i < n; i++) orders[i] = (segments[i].core && ONLY[segments[i].mask & (BOLD | ITALIC | STRIKE)]) || NONE;
  }
  // For whitespace: the emphasis order of the next core segment (what may stay open across it).
  const nextOrders: Array<readonly number[]> = new Array(n);
  let nextOrder: readonly number[] = NONE;
  for (let i = n - 1; i >= 0; i--) {
    nextOrders[i] = nextOrder;
    if (segments[i].core) nextOrder = orders[i];
  }
  cells = 0;
  open.length = 0;
  codeOpen = false;
  for (let i = 0; i < n; i++) {
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
      if (codeOpen || keep < open.length) closeTo(keep);
      push(segment.text, FINAL);
      continue;
    }
    const order = orders[i];
    const keep = commonLength(open, order);
    if (codeOpen || keep < open.length) closeTo(keep);
    for (let k = keep; k < order.length; k++) {
      open.push(order[k]);
      push(MARKER[order[k]], MARK);
    }
    if (segment.mask & CODE) {
      push('`', MARK);
      push(segment.text, FINAL);
      codeOpen = true;
    } else push(segment.text, segment.href === ADDRESS ? FINAL : PROSE);
  }
  closeTo(0);
  return joinCells();
}

/** The emphasis open on the line being written, outermost first, and whether a code span is. */
const open: number[] = [];
let codeOpen = false;

/** Closes an open code span, then emphasis down to the first `keep` marks, innermost first. */
function closeTo(keep: number): void {
  if (codeOpen) push('`', MARK);
  codeOpen = false;
  for (let k = open.length - 1; k >= keep; k--) push(MARKER[open[k]], MARK);
  open.length = keep;
}

/** The line being joined. */
let line = '';

/** Joins the line's cells, guarding the literal marker characters of its prose and its line syntax. */
function joinCells(): string {
  line = '';
  let started = false;
  for (let c = 0; c < cells; c++) {
    const text = cellText[c];
    const kind = cellKind[c];
    if (kind !== PROSE) {
      line += text;
      if (!started && (kind === MARK || !isBlank(text))) started = true;
      continue;
    }
    let start = -1;
    if (!started) {
      let f = 0;
      while (f < text.length && isWhitespace(text.charCodeAt(f))) f++;
      if (f < text.length) {
        start = f;
        started = true;
      }
    }
    if (start < 0 && !HAS_MARKER_CHAR.test(text)) {
      line += text;
      continue;
    }
    const prev = c > 0 ? lastOfText(cellText[c - 1]) : undefined;
    const next = c + 1 < cells ? cellText[c + 1][0] : undefined;
    guardProse(text, prev, next, start);
  }
  return line;
}

function lastOfText(text: string): string | undefined {
  return text ? text[text.length - 1] : undefined;
}

function isBlank(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (!isWhitespace(text.charCodeAt(i))) return false;
  return true;
}

const MARKERS = /[*_~`]/g;

/** The index of the next marker character from `MARKERS.lastIndex` (or `from`, when it is behind), -1 if none. */
function nextMarker(text: string, from: number): number {
  if (MARKERS.lastIndex < from) MARKERS.lastIndex = from;
  const match = MARKERS.exec(text);
  if (!match) {
    MARKERS.lastIndex = 0;
    return -1;
  }
  return match.index;
}

/**
 * Appends prose to `line` with a word joiner on both sides of each marker character that could
 * open or close, and, at the line's first visible character (`start`, or -1), line syntax made
 * inert (`-`/`*` before a space, `>`: a joiner before) or the layout's bullet written as WhatsApp's.
 */
function guardProse(text: string, prev: string | undefined, next: string | undefined, start: number): void {
  MARKERS.lastIndex = 0;
  let from = 0;
  let syntaxAt = -1;
  if (start >= 0) {
    const lead = text.charCodeAt(start);
    const after = start + 1 < text.length ? text[start + 1] : next;
    const spaced = after !== undefined && isWhitespace(after.charCodeAt(0));
    if (lead === 0x2022 && spaced) {
      line += text.slice(0, start) + '-';
      from = start + 1;
    } else if (lead === 0x3e || ((lead === 0x2d || lead === 0x2a) && spaced)) syntaxAt = start;
  }
  for (let p = syntaxAt >= 0 ? syntaxAt : nextMarker(text, from); p >= 0; p = nextMarker(text, from)) {
    const marker = isMarkerCode(text.charCodeAt(p));
    // The joiner before a line-start character is its neighbour as far as judging goes.
    const before = p === syntaxAt ? WORD_JOINER : p > 0 ? text[p - 1] : prev;
    const after = p + 1 < text.length ? text[p + 1] : next;
    const guard = marker && mayAct(before, after);
    if (!guard && p !== syntaxAt) {
      // Left as it is: the text up to and with it goes out with the next piece.
      MARKERS.lastIndex = p + 1;
      continue;
    }
    line += text.slice(from, p);
    if (line.charCodeAt(line.length - 1) !== 0x2060) line += WORD_JOINER;
    let q = p + 1;
    if (guard) {
      while (q < text.length && isAttached(text.charCodeAt(q))) q++;
      line += text.slice(p, q) + WORD_JOINER;
    } else line += text[p];
    from = q;
  }
  line += from === 0 ? text : text.slice(from);
}

// ---------------------------------------------------------------------------------------------
// Lines, fences and quotes

const FENCE_RUN = /`{3,}/g;

/** A code block line: verbatim but for three or more backticks in a row, a joiner between each two. */
function preText(text: string): string {
  return text.indexOf('```') < 0 ? text : text.replace(FENCE_RUN, (run) => run.split('').join(WORD_JOINER));
}

/** One line's output, the quote marker or the code escaping included. */
function lineOut(runs: readonly Run[], pre: boolean): string {
  if (pre) {
    let text = '';
    for (const run of runs) text += run.text;
    return preText(text);
  }
  for (const run of runs) if (hasQuote(run.marks)) return '> ' + proseLine(runs);
  return proseLine(runs);
}

const FENCE_OPEN = '```\n';
const FENCE_CLOSE = '\n```';

/** Where the writer stands after a line break: all it needs to go on from there. */
interface Checkpoint {
  /** Index of the first run not yet read. */
  readonly at: number;
  readonly out: string;
  readonly inPre: boolean;
  readonly before: readonly Mark[] | undefined;
  readonly lines: number;
}

/**
 * Writes runs line by line: a code line inside its fence (opened at the first code line, closed
 * before the first line that is not code or belongs to another block), a prose line with the quote
 * marker when it is quoted. An empty line between two lines of one code block stays in the fence.
 * A line's output is only written when the break after it (or the end) is read.
 */
class Writer {
  out = '';
  inPre = false;
  /** The line break that started the current line. */
  before: readonly Mark[] | undefined;
  lines = 0;
  private readonly content: Run[] = [];
  private contentPre = false;

  /** Starts over, from a checkpoint or from nothing (one writer serves every call). */
  reset(checkpoint: Checkpoint | undefined): this {
    this.out = checkpoint ? checkpoint.out : '';
    this.inPre = checkpoint ? checkpoint.inPre : false;
    this.before = checkpoint?.before;
    this.lines = checkpoint ? checkpoint.lines : 0;
    this.content.length = 0;
    this.contentPre = false;
    return this;
  }

  checkpoint(at: number): Checkpoint {
    return { at, out: this.out, inPre: this.inPre, before: this.before, lines: this.lines };
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
    if (this.inPre) this.out += FENCE_CLOSE;
    this.inPre = false;
  }

  private add(run: Run): void {
    this.content.push(run);
    if (!this.contentPre && hasPre(run.marks)) this.contentPre = true;
  }

  private finishLine(after: readonly Mark[] | undefined): void {
    const content = this.content;
    const pre = content.length ? this.contentPre : hasPre(this.before) && hasPre(after);
    if (this.lines > 0) {
      // The break that ended the previous line: a fence still open closes before it unless this
      // line continues the same block (the break itself is inside the code block).
      if (this.inPre && !(pre && hasPre(this.before))) {
        this.out += FENCE_CLOSE;
        this.inPre = false;
      }
      this.out += '\n';
    }
    if (pre && !this.inPre) {
      this.out += FENCE_OPEN;
      this.inPre = true;
    }
    if (content.length) {
      this.out += lineOut(content, pre);
      content.length = 0;
    }
    this.contentPre = false;
    this.lines++;
  }
}

const WRITER = new Writer();

/** Runs to a WhatsApp body (see Writer and proseLine). */
export const serializeWhatsApp: (runs: readonly Run[]) => string = resumableSerializer((resume: Checkpoint | undefined) => WRITER.reset(resume), 64);

/** WhatsApp's limit counts the whole body, markup included; here in UTF-16 units, never fewer than WhatsApp counts. */
export function measureWhatsApp(rendered: string): number {
  return rendered.length;
}

export const WHATSAPP_TEXT: PlatformFormat = {
  name: 'whatsapp',
  maxLength: WHATSAPP_MAX_LENGTH,
  measure: measureWhatsApp,
  serialize: serializeWhatsApp,
};
