/**
 * A reply's blocks laid end to end with, per run, running totals of what the splitter's limits
 * count: entities opened, their size, and (for an additive measure) the measured length. The
 * length, entity count and entity size of any piece of a block then come from a few lookups
 * instead of serialising and measuring the piece, which keeps splitting linear in the reply.
 */
import type { Mark, Run } from './types';
import { commonPrefix } from './runs';

/** The entity limits as numbers (Infinity: no limit). */
export interface EntityLimits {
  readonly count: number;
  readonly size: number;
  readonly sizeOf: (mark: Mark) => number;
}

/** What a piece may still take: room left in the part, per limit. */
export interface Room {
  length: number;
  entities: number;
  size: number;
}

export class RunTable {
  /** Every block's runs, in order, none empty. */
  readonly runs: readonly Run[];
  /** Index of each block's first run, and the number of runs at the end. */
  private readonly first: Int32Array;
  /** Offset of each run inside its block's visible text. */
  private readonly start: Int32Array;
  /**
   * Running totals over all runs of the entities each opens after the run before it in its block
   * (a block's first run: all its marks), and of their size: entities of runs (i, j] are
   * opened[j + 1] - opened[i + 1], whatever block they sit in.
   */
  private readonly opened: Int32Array;
  private readonly openedSize: Float64Array;
  /** Size of all a run's marks: what it opens when a part starts with it. */
  private readonly ownSize: Float64Array;
  /** Running total of the additive measure of the runs' texts (none without an additive measure). */
  private readonly measured: Float64Array | undefined;
  /** Is run i inside a code block (the cut tiers prefer cuts outside)? */
  private readonly pre: Uint8Array;
  private readonly texts: Array<string | undefined>;
  private readonly lastVisibles: Int32Array;

  constructor(
    blocks: readonly (readonly Run[])[],
    private readonly entities: EntityLimits | undefined,
    private readonly measureText: ((visible: string) => number) | undefined,
  ) {
    let total = 0;
    for (const block of blocks) total += block.length;
    const runs: Run[] = [];
    this.first = new Int32Array(blocks.length + 1);
    this.start = new Int32Array(total + 1);
    this.opened = new Int32Array(total + 1);
    this.openedSize = new Float64Array(total + 1);
    this.ownSize = new Float64Array(total);
    this.measured = measureText ? new Float64Array(total + 1) : undefined;
    this.pre = new Uint8Array(total);
    // Running sizes of the previous run's marks: [k] = size of its first k marks. A run shares
    // its leading marks with the one before, so only the marks it opens are sized.
    const markSizes: number[] = [0];
    let i = 0;
    blocks.forEach((block, b) => {
      this.first[b] = i;
      let offset = 0;
      let before: readonly Mark[] = [];
      for (let run of block) {
        if (!run.text) continue;
        let kept = commonPrefix(before, run.marks);
        if (entities) {
          for (let m = kept; m < run.marks.length; m++) markSizes[m + 1] = markSizes[m] + entities.sizeOf(run.marks[m]);
          let fits = fittingMarks(run.marks.length, markSizes, entities);
          if (fits < run.marks.length && run.marks.some(isNamedPre)) {
            // A code block's language name is what makes its tag long: first try it without one,
            // so the code stays a code block (every run of the block degrades the same way).
            run = { text: run.text, marks: run.marks.map(plainPre) };
            kept = commonPrefix(before, run.marks);
            for (let m = 0; m < run.marks.length; m++) markSizes[m + 1] = markSizes[m] + entities.sizeOf(run.marks[m]);
            fits = fittingMarks(run.marks.length, markSizes, entities);
          }
          if (fits < run.marks.length) {
            // Marks a part could never hold, even alone: the text goes without the innermost ones.
            run = { text: run.text, marks: run.marks.slice(0, fits) };
            kept = Math.min(kept, fits);
          }
          this.ownSize[i] = markSizes[run.marks.length];
        }
        runs.push(run);
        this.start[i] = offset;
        offset += run.text.length;
        this.pre[i] = hasPre(run.marks) ? 1 : 0;
        this.opened[i + 1] = this.opened[i] + (entities ? run.marks.length - kept : 0);
        this.openedSize[i + 1] = this.openedSize[i] + (entities ? markSizes[run.marks.length] - markSizes[kept] : 0);
        if (this.measured && measureText) this.measured[i + 1] = this.measured[i] + measureText(run.text);
        before = run.marks;
        i++;
      }
    });
    this.first[blocks.length] = i;
    this.runs = runs;
    this.texts = new Array<string | undefined>(blocks.length);
    this.lastVisibles = new Int32Array(blocks.length).fill(-2);
  }

  get blockCount(): number {
    return this.first.length - 1;
  }

  blockLength(b: number): number {
    const last = this.first[b + 1] - 1;
    return last < this.first[b] ? 0 : this.start[last] + this.runs[last].text.length;
  }

  /** The block's visible text, built only for blocks that need cutting. */
  text(b: number): string {
    let text = this.texts[b];
    if (text === undefined) {
      text = '';
      for (let i = this.first[b]; i < this.first[b + 1]; i++) text += this.runs[i].text;
      this.texts[b] = text;
    }
    return text;
  }

  /** Offset of the block's last non-whitespace character (-1: none). */
  lastVisible(b: number): number {
    if (this.lastVisibles[b] === -2) {
      const text = this.text(b);
      let i = text.length - 1;
      while (i >= 0 && isWhitespace(text.charCodeAt(i))) i--;
      this.lastVisibles[b] = i;
    }
    return this.lastVisibles[b];
  }

  /** Index of the run holding visible offset `at` of block b. */
  runAt(b: number, at: number): number {
    let lo = this.first[b];
    let hi = this.first[b + 1] - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.start[mid] <= at) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  runStart(i: number): number {
    return this.start[i];
  }

  isPre(i: number): boolean {
    return this.pre[i] === 1;
  }

  /** Entities and their size in block b's piece [from, to), on a part of its own (from < to). */
  entitiesOf(b: number, from: number, to: number): { count: number; size: number } {
    if (!this.entities) return { count: 0, size: 0 };
    const i = this.runAt(b, from);
    const j = this.runAt(b, to - 1);
    return {
      count: this.runs[i].marks.length + this.opened[j + 1] - this.opened[i + 1],
      size: this.ownSize[i] + this.openedSize[j + 1] - this.openedSize[i + 1],
    };
  }

  /** The additive measure of block b's piece [from, to). */
  measureOf(b: number, from: number, to: number): number {
    const measured = this.measured;
    const measureText = this.measureText;
    if (!measured || !measureText || to <= from) return 0;
    const i = this.runAt(b, from);
    const j = this.runAt(b, to - 1);
    const head = this.runs[i].text;
    if (i === j) return measureText(head.slice(from - this.start[i], to - this.start[i]));
    return measureText(head.slice(from - this.start[i])) + measured[j] - measured[i + 1] + measureText(this.runs[j].text.slice(0, to - this.start[j]));
  }

  /**
   * The furthest end in (from, block end] such that block b's piece [from, end) fits in `room`;
   * `from` if not even its first character does. Length is the additive measure, or without one
   * the visible UTF-16 length (a lower bound of any chat format's measure, as markup only adds).
   * Walks the runs from `from` and stops at the first that does not fit: it costs what it takes.
   */
  fit(b: number, from: number, room: Room): number {
    const last = this.first[b + 1];
    const head = this.runAt(b, from);
    let pos = from;
    let length = 0;
    let count = 0;
    let size = 0;
    for (let i = head; i < last; i++) {
      const run = this.runs[i];
      if (this.entities) {
        count += i === head ? run.marks.length : this.opened[i + 1] - this.opened[i];
        size += i === head ? this.ownSize[i] : this.openedSize[i + 1] - this.openedSize[i];
        if (count > room.entities || size > room.size) return pos;
      }
      if (i === head && from > this.start[i]) {
        // The rest of a run already cut: measured only as far as the room reaches, not to its end
        // (one long paragraph is one run, and it is cut many times).
        const text = run.text.slice(from - this.start[i]);
        const fits = this.fitPrefix(text, room.length);
        if (fits < text.length) return pos + fits;
        length += this.measureText ? this.measureText(text) : text.length;
        pos += text.length;
        continue;
      }
      const cost = this.measured ? this.measured[i + 1] - this.measured[i] : run.text.length;
      if (length + cost > room.length) return pos + this.fitPrefix(run.text, room.length - length);
      length += cost;
      pos += run.text.length;
    }
    return pos;
  }

  /** The longest prefix of `text` whose length is within `room`: gallop, then bisect. */
  private fitPrefix(text: string, room: number): number {
    const measureText = this.measureText;
    if (room <= 0) return 0;
    if (!this.measured || !measureText) return Math.min(text.length, Math.floor(room));
    let fits = 0;
    let over = text.length + 1;
    for (let step = 1; fits + step < over; step *= 2) {
      const probe = Math.min(text.length, fits + step);
      if (measureText(text.slice(0, probe)) > room) {
        over = probe;
        break;
      }
      fits = probe;
      if (probe === text.length) return fits;
    }
    while (over - fits > 1) {
      const mid = (fits + over) >> 1;
      if (measureText(text.slice(0, mid)) <= room) fits = mid;
      else over = mid;
    }
    return fits;
  }

  /** Appends the runs of block b's piece [from, to) to `out`. */
  pieceRuns(b: number, from: number, to: number, out: Run[]): void {
    if (to <= from) return;
    const i = this.runAt(b, from);
    const j = this.runAt(b, to - 1);
    for (let k = i; k <= j; k++) {
      const run = this.runs[k];
      const a = k === i ? from - this.start[k] : 0;
      const z = k === j ? to - this.start[k] : run.text.length;
      out.push(a === 0 && z === run.text.length ? run : { text: run.text.slice(a, z), marks: run.marks });
    }
  }
}

/** How many leading marks fit the entity limits on their own (`sizes[k]`: size of the first k). */
function fittingMarks(count: number, sizes: readonly number[], limits: EntityLimits): number {
  let k = Math.min(count, limits.count);
  while (k > 0 && sizes[k] > limits.size) k--;
  return k;
}

function hasPre(marks: readonly Mark[]): boolean {
  for (const mark of marks) if (mark.kind === 'pre') return true;
  return false;
}

/** The characters String.prototype.trim removes. */
export function isWhitespace(code: number): boolean {
  if (code <= 0x20) return code === 0x20 || (code >= 0x09 && code <= 0x0d);
  if (code < 0xa0) return false;
  return (
    code === 0xa0 ||
    code === 0x1680 ||
    (code >= 0x2000 && code <= 0x200a) ||
    code === 0x2028 ||
    code === 0x2029 ||
    code === 0x202f ||
    code === 0x205f ||
    code === 0x3000 ||
    code === 0xfeff
  );
}

function isNamedPre(mark: Mark): boolean {
  return mark.kind === 'pre' && mark.lang !== '';
}

function plainPre(mark: Mark): Mark {
  return isNamedPre(mark) ? { kind: 'pre', lang: '' } : mark;
}
