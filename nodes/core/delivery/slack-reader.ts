/**
 * Slack mrkdwn read back: the text a reader sees and the formatting at every character, as the
 * renderer (render-slack.ts) assumes Slack reads it. The rules are taken at their strictest, so
 * that text this reader formats as intended is formatted so by Slack whichever way Slack draws the
 * lines it leaves vague:
 *
 * - ``` at a line's start followed by a line break opens a code block; it ends at the next line
 *   break followed by ```. Its text is verbatim (entities decoded), formatted as nothing but code.
 * - `&gt;` at a line's start (one space after it dropped) makes the line a quote. A soft hyphen
 *   before it keeps it text.
 * - `<…>` is a token first of all: a link shows its label (or its address), a date its fallback,
 *   a mention its name, as the Slack emulator's mrkdwnToText shows them.
 * - Then inline code, then bold, italic and strike: a marker opens where the character before it
 *   is a line edge, whitespace, a zero-width space or ASCII punctuation (anything else — letters,
 *   digits, any non-ASCII character — is taken for part of a word), and the character after it is
 *   neither whitespace nor a zero-width space; it closes at the nearest marker of its kind with the
 *   mirror conditions and some text between. Styles nest; a style does not nest in itself.
 * - Zero-width spaces and soft hyphens are invisible: they are not part of the visible text.
 */

export interface SlackReading {
  /** What a reader sees: markers, quote markers and fences gone, tokens and entities resolved. */
  readonly visible: string;
  /**
   * Per UTF-16 unit of `visible`, its formatting: 'bold', 'italic', 'strike', 'code', 'pre',
   * 'quote', 'link <address>'.
   */
  readonly styles: ReadonlyArray<readonly string[]>;
  /**
   * The mrkdwn with only the formatting taken out (markers, quote markers, fences, invisible
   * characters): tokens and entities are still as written, so the emulator's mrkdwnToText of it
   * must be `visible`.
   */
  readonly unformatted: string;
}

type Class = 'space' | 'punct' | 'word' | 'zw';

interface Atom {
  raw: string;
  vis: string;
  cls: Class;
  /** A marker character that may open or close formatting. */
  marker?: string;
  /** The formatting the atom itself carries (a link's, a code span's). */
  own?: string;
}

const NO_STYLES: readonly string[] = [];
const PRE: readonly string[] = ['pre'];
const ENTITIES: Record<string, string> = { '&amp;': '&', '&lt;': '<', '&gt;': '>' };
const STYLE: Record<string, string> = { '*': 'bold', _: 'italic', '~': 'strike' };
const INVISIBLE = /[\u200b\u00ad]/g;

export function readSlackMrkdwn(text: string): SlackReading {
  const reader = new Reader();
  let i = 0;
  while (i <= text.length) {
    if (text.startsWith('```\n', i)) {
      let close = text.indexOf('\n```', i + 3);
      if (close < 0) close = text.length;
      const code = text.slice(i + 4, Math.max(i + 4, close));
      reader.emit(decode(code), PRE, code.replace(INVISIBLE, ''));
      i = close + 4;
      if (text[i] !== '\n') break;
      reader.emit('\n', NO_STYLES, '\n');
      i++;
      continue;
    }
    let end = text.indexOf('\n', i);
    if (end < 0) end = text.length;
    reader.line(text.slice(i, end));
    if (end >= text.length) break;
    reader.emit('\n', NO_STYLES, '\n');
    i = end + 1;
  }
  return { visible: reader.visible, styles: reader.styles, unformatted: reader.unformatted };
}

export function slackVisibleText(text: string): string {
  return readSlackMrkdwn(text).visible;
}

function decode(text: string): string {
  return text.replace(/&(amp|lt|gt);/g, (entity) => ENTITIES[entity]).replace(INVISIBLE, '');
}

class Reader {
  visible = '';
  unformatted = '';
  readonly styles: Array<readonly string[]> = [];

  emit(vis: string, styles: readonly string[], raw: string): void {
    this.visible += vis;
    for (let k = 0; k < vis.length; k++) this.styles.push(styles);
    this.unformatted += raw;
  }

  line(line: string): void {
    let base: readonly string[] = NO_STYLES;
    if (line.startsWith('&gt;')) {
      base = ['quote'];
      line = line.slice(line.startsWith('&gt; ') ? 5 : 4);
    }
    const atoms = collapseCode(atomsOf(line));
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
      this.emit(atom.vis, atom.own ? styles.concat(atom.own) : styles, atom.raw);
    }
  }
}

function classOf(ch: string): Class {
  const code = ch.charCodeAt(0);
  if (code === 0x200b || code === 0xad) return 'zw';
  if (/\s/.test(ch)) return 'space';
  if (code < 0x80 && !/[A-Za-z0-9]/.test(ch)) return 'punct';
  return 'word';
}

function atomsOf(line: string): Atom[] {
  const atoms: Atom[] = [];
  for (let i = 0; i < line.length; ) {
    const ch = line[i];
    if (ch === '<') {
      const end = line.indexOf('>', i + 1);
      const next = line.indexOf('<', i + 1);
      const token = end > 0 && (next < 0 || next > end) ? tokenAtom(line.slice(i, end + 1)) : undefined;
      if (token) {
        atoms.push(token);
        i = end + 1;
        continue;
      }
    }
    if (ch === '&') {
      const entity = /^&(amp|lt|gt);/.exec(line.slice(i, i + 5));
      if (entity) {
        atoms.push({ raw: entity[0], vis: ENTITIES[entity[0]], cls: 'punct' });
        i += entity[0].length;
        continue;
      }
    }
    const cls = classOf(ch);
    atoms.push({ raw: cls === 'zw' ? '' : ch, vis: cls === 'zw' ? '' : ch, cls, ...(ch === '*' || ch === '_' || ch === '~' || ch === '`' ? { marker: ch } : {}) });
    i++;
  }
  return atoms;
}

/** A `<…>` token as Slack shows it, or undefined when Slack would not read it as one. */
function tokenAtom(raw: string): Atom | undefined {
  const inner = raw.slice(1, -1);
  const bar = inner.indexOf('|');
  const target = bar < 0 ? inner : inner.slice(0, bar);
  const label = bar < 0 ? undefined : decode(inner.slice(bar + 1));
  const clean = raw.replace(INVISIBLE, '');
  if (/^(https?:\/\/|mailto:)[^\s<>|]+$/.test(target)) {
    const address = decode(target);
    const vis = label ?? (address.startsWith('mailto:') ? address.slice('mailto:'.length) : address);
    return { raw: clean, vis, cls: 'punct', own: `link ${address}` };
  }
  if (/^@[UWB][A-Z0-9]+$/.test(target) || /^#[CGD][A-Z0-9]+$/.test(target)) {
    const name = label ? label.replace(/^[@#]/, '') : target.slice(1);
    return { raw: clean, vis: target[0] + name, cls: 'punct', own: 'mention' };
  }
  if (target.startsWith('!')) {
    const name = target.slice(1);
    if (/^date\^\d+\^/.test(name)) return { raw: clean, vis: label ?? name.split('^')[2] ?? name, cls: 'punct' };
    if (/^(here|channel|everyone|group)$/.test(name) || /^subteam\^[A-Z0-9]+$/.test(name)) {
      return { raw: clean, vis: label ?? `@${name.replace(/^subteam\^/, '')}`, cls: 'punct', own: 'ping' };
    }
  }
  return undefined;
}

const boundary = (atom: Atom | undefined): boolean => !atom || atom.cls !== 'word';
const inside = (atom: Atom | undefined): boolean => !!atom && (atom.cls === 'word' || atom.cls === 'punct');

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
        const content = atoms.slice(i + 1, j);
        out.push({ raw: content.map((a) => a.raw).join(''), vis: content.map((a) => a.vis).join(''), cls: 'punct', own: 'code' });
        i = j;
        continue;
      }
    }
    out.push(atom);
  }
  return out;
}
