/**
 * A WhatsApp text body read back: the text a phone shows and the formatting at every character, by
 * the rules render-whatsapp.ts assumes WhatsApp follows. Where they are vague the strictest
 * reading is taken, and where a reading depends on how WhatsApp classes a character the reader
 * takes an option, so a test can read a body every way and ask for the same result:
 *
 * - ``` opens a monospace block anywhere and the next ``` closes it, across lines; a line break
 *   right after the opening fence and right before the closing one is not shown. Its text is
 *   verbatim, formatted as nothing but 'pre'. Without a closing ``` the backticks are text.
 * - At a line's start (outside monospace): `> ` (after any spaces) makes the line a quote, its
 *   marker not shown (a second `> ` is dropped too: one quote); then `- ` or `* ` (after any
 *   spaces) makes it a bulleted item, the marker shown as WhatsApp draws it, `• `; `1. ` (any
 *   number) a numbered item, shown as written. These rules look at the characters themselves: a
 *   word joiner before them is no space.
 * - Then inline code, then bold `*`, italic `_` and strike `~`, within one line: a marker opens
 *   where the character before it is the line's edge, whitespace or punctuation and the one after
 *   it is not whitespace; it closes at the nearest marker of its kind with the mirror conditions
 *   and some text between. Styles nest; a style does not nest in itself; a code span is opaque.
 * - Punctuation (`boundaries`): 'punctuation' (the default) takes ASCII punctuation and Unicode
 *   punctuation (\p{P}) for boundaries, every other visible character for part of a word;
 *   'non-alphanumeric' takes everything but letters, digits and combining marks for a boundary
 *   (symbols and emoji too).
 * - U+2060 WORD JOINER (`joiner`) is invisible: 'word' (the default) takes it for part of a word,
 *   'space' for whitespace.
 */
import { isWhitespace } from './run-table';

export interface WhatsAppReadOptions {
  readonly joiner?: 'word' | 'space';
  readonly boundaries?: 'punctuation' | 'non-alphanumeric';
}

export interface WhatsAppReading {
  /** What a phone shows: markers, quote markers and fences gone, bullets drawn, joiners invisible. */
  readonly visible: string;
  /** Per UTF-16 unit of `visible`, its formatting: 'bold', 'italic', 'strike', 'code', 'pre', 'quote', 'list'. */
  readonly styles: ReadonlyArray<readonly string[]>;
}

const SPACE = 0;
const PUNCT = 1;
const WORD = 2;

interface Atom {
  vis: string;
  cls: number;
  /** A marker character that may open or close formatting. */
  marker?: string;
  /** The formatting the atom itself carries (a code span's). */
  own?: string;
}

const NO_STYLES: readonly string[] = [];
const PRE: readonly string[] = ['pre'];
const STYLE: Record<string, string> = { '*': 'bold', _: 'italic', '~': 'strike' };
const JOINERS = /\u2060/g;
const LETTER_DIGIT_OR_MARK = /[\p{L}\p{N}\p{M}]/u;
const PUNCTUATION = /\p{P}/u;
const QUOTE_START = /^ *> /;
const BULLET_START = /^( *)[-*] /;
const NUMBER_START = /^ *\d+\. /;

export function readWhatsApp(text: string, options: WhatsAppReadOptions = {}): WhatsAppReading {
  const reader = new Reader(options);
  let i = 0;
  let lineStart = true;
  while (i < text.length) {
    const open = text.indexOf('```', i);
    const close = open >= 0 ? text.indexOf('```', open + 3) : -1;
    if (close < 0) {
      reader.normal(text.slice(i), lineStart);
      break;
    }
    reader.normal(text.slice(i, open), lineStart);
    let code = text.slice(open + 3, close);
    if (code.startsWith('\n')) code = code.slice(1);
    if (code.endsWith('\n')) code = code.slice(0, -1);
    reader.emit(code.replace(JOINERS, ''), PRE);
    i = close + 3;
    lineStart = false;
  }
  return { visible: reader.visible, styles: reader.styles };
}

export function whatsappVisibleText(text: string, options?: WhatsAppReadOptions): string {
  return readWhatsApp(text, options).visible;
}

class Reader {
  visible = '';
  readonly styles: Array<readonly string[]> = [];

  constructor(private readonly options: WhatsAppReadOptions) {}

  emit(vis: string, styles: readonly string[]): void {
    this.visible += vis;
    for (let k = 0; k < vis.length; k++) this.styles.push(styles);
  }

  /** Text outside monospace; `lineStart`: does it start at a line's start? */
  normal(text: string, lineStart: boolean): void {
    let from = 0;
    for (let first = true; ; first = false) {
      const nl = text.indexOf('\n', from);
      const end = nl < 0 ? text.length : nl;
      this.line(text.slice(from, end), first ? lineStart : true);
      if (nl < 0) break;
      this.emit('\n', NO_STYLES);
      from = nl + 1;
    }
  }

  private line(line: string, atStart: boolean): void {
    if (!line) return;
    let base: readonly string[] = NO_STYLES;
    if (atStart) {
      let m: RegExpExecArray | null;
      while ((m = QUOTE_START.exec(line))) {
        base = ['quote'];
        line = line.slice(m[0].length);
      }
      if ((m = BULLET_START.exec(line))) {
        base = base.concat('list');
        this.emit(m[1] + '• ', base);
        line = line.slice(m[0].length);
      } else if (NUMBER_START.test(line)) base = base.concat('list');
    }
    const atoms = collapseCode(this.atomsOf(line));
    this.inline(atoms, 0, atoms.length, new Set(['*', '_', '~']), base);
  }

  private inline(atoms: readonly Atom[], from: number, to: number, kinds: Set<string>, styles: readonly string[]): void {
    for (let i = from; i < to; i++) {
      const atom = atoms[i];
      if (atom.marker && kinds.has(atom.marker) && opens(atoms, i)) {
        const j = closerOf(atoms, i, to);
        if (j >= 0) {
          const inner = new Set(kinds);
          inner.delete(atom.marker);
          this.inline(atoms, i + 1, j, inner, styles.concat(STYLE[atom.marker]));
          i = j;
          continue;
        }
      }
      this.emit(atom.vis, atom.own ? styles.concat(atom.own) : styles);
    }
  }

  private classOf(ch: string, code: number): number {
    if (code === 0x2060) return this.options.joiner === 'space' ? SPACE : WORD;
    if (isWhitespace(code)) return SPACE;
    if (code < 0x80) return (code >= 0x30 && code <= 0x39) || (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a) ? WORD : PUNCT;
    if (this.options.boundaries === 'non-alphanumeric') return LETTER_DIGIT_OR_MARK.test(ch) ? WORD : PUNCT;
    return PUNCTUATION.test(ch) ? PUNCT : WORD;
  }

  private atomsOf(line: string): Atom[] {
    const atoms: Atom[] = [];
    for (let i = 0; i < line.length; ) {
      const code = line.codePointAt(i)!;
      const ch = code > 0xffff ? line.slice(i, i + 2) : line[i];
      const cls = this.classOf(ch, code);
      const atom: Atom = { vis: code === 0x2060 ? '' : ch, cls };
      if (ch === '*' || ch === '_' || ch === '~' || ch === '`') atom.marker = ch;
      atoms.push(atom);
      i += ch.length;
    }
    return atoms;
  }
}

const boundary = (atom: Atom | undefined): boolean => !atom || atom.cls !== WORD;
const inside = (atom: Atom | undefined): boolean => !!atom && atom.cls !== SPACE;

function opens(atoms: readonly Atom[], i: number): boolean {
  return boundary(atoms[i - 1]) && inside(atoms[i + 1]);
}

function closes(atoms: readonly Atom[], j: number): boolean {
  return inside(atoms[j - 1]) && boundary(atoms[j + 1]);
}

/** The nearest closer for the opener at i, before `to`, with text between; -1 if none. */
function closerOf(atoms: readonly Atom[], i: number, to: number): number {
  for (let j = i + 2; j < to; j++) if (atoms[j].marker === atoms[i].marker && closes(atoms, j)) return j;
  return -1;
}

/** Inline code spans become single atoms (opaque to the emphasis that may surround them). */
function collapseCode(atoms: Atom[]): Atom[] {
  if (!atoms.some((atom) => atom.marker === '`')) return atoms;
  const out: Atom[] = [];
  for (let i = 0; i < atoms.length; i++) {
    const atom = atoms[i];
    if (atom.marker === '`' && opens(atoms, i)) {
      const j = closerOf(atoms, i, atoms.length);
      if (j >= 0) {
        let vis = '';
        for (let k = i + 1; k < j; k++) vis += atoms[k].vis;
        out.push({ vis, cls: PUNCT, own: 'code' });
        i = j;
        continue;
      }
    }
    out.push(atom);
  }
  return out;
}
