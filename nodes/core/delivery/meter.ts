/**
 * How the splitter asks "how much of this block still fits the part" and "how full would the part
 * be": by adding up run lengths when the format's measure is additive (Telegram, plain text: the
 * visible UTF-16 length), or else by serialising candidate parts and measuring them, the generic
 * and slower way. Entity counts and sizes always come from the run table.
 */
import type { PlatformFormat, Run } from './types';
import type { EntityLimits, Room, RunTable } from './run-table';
import { plainSerialize } from './runs';

export const BLOCK_SEPARATOR = '\n\n';
export const SEPARATOR: Run = { text: BLOCK_SEPARATOR, marks: [] };

/** A piece of a block in a part: visible offsets [from, to) of block `block`. */
export interface Piece {
  readonly block: number;
  readonly from: number;
  readonly to: number;
}

/** A part being filled: its pieces, joined by the block separator, and what they use up. */
export class Part {
  readonly pieces: Piece[] = [];
  /** The additive measure (additive meter) or the visible length (serialising meter). */
  length = 0;
  entities = 0;
  entitySize = 0;

  get empty(): boolean {
    return this.pieces.length === 0;
  }
}

export interface Meter {
  /** The furthest end in (from, block end] such that the part with block b's [from, end) fits; `from` if nothing does. */
  limit(part: Part, b: number, from: number): number;
  /** How full the part would be with block b's [from, to) added, as the largest fraction of any limit. */
  fill(part: Part, b: number, from: number, to: number): number;
  add(part: Part, b: number, from: number, to: number): void;
  runsOf(part: Part): Run[];
}

abstract class BaseMeter implements Meter {
  constructor(
    protected readonly table: RunTable,
    protected readonly maxLength: number,
    private readonly entities: EntityLimits | undefined,
    /** What the separator adds to a part's `length`. */
    private readonly separatorLength: number,
  ) {}

  abstract limit(part: Part, b: number, from: number): number;
  abstract fill(part: Part, b: number, from: number, to: number): number;
  protected abstract lengthOf(b: number, from: number, to: number): number;

  /** What joining one more piece to the part costs before the piece itself. */
  protected separatorFor(part: Part): number {
    return part.empty ? 0 : this.separatorLength;
  }

  protected room(part: Part, length: number): Room {
    return {
      length: length - this.separatorFor(part),
      entities: (this.entities?.count ?? Infinity) - part.entities,
      size: (this.entities?.size ?? Infinity) - part.entitySize,
    };
  }

  protected entityFill(part: Part, b: number, from: number, to: number): number {
    if (!this.entities) return 0;
    const { count, size } = this.table.entitiesOf(b, from, to);
    return Math.max((part.entities + count) / this.entities.count, (part.entitySize + size) / this.entities.size);
  }

  add(part: Part, b: number, from: number, to: number): void {
    part.length += this.separatorFor(part) + this.lengthOf(b, from, to);
    if (this.entities) {
      const { count, size } = this.table.entitiesOf(b, from, to);
      part.entities += count;
      part.entitySize += size;
    }
    part.pieces.push({ block: b, from, to });
  }

  runsOf(part: Part, extra?: Piece): Run[] {
    const runs: Run[] = [];
    const pieces = extra ? [...part.pieces, extra] : part.pieces;
    pieces.forEach((piece, i) => {
      if (i > 0) runs.push(SEPARATOR);
      this.table.pieceRuns(piece.block, piece.from, piece.to, runs);
    });
    return runs;
  }
}

/** The fast path: the part's length is the sum of its runs' lengths, kept as the part grows. */
export class AdditiveMeter extends BaseMeter {
  constructor(table: RunTable, maxLength: number, entities: EntityLimits | undefined, measureText: (visible: string) => number) {
    super(table, maxLength, entities, measureText(BLOCK_SEPARATOR));
  }

  limit(part: Part, b: number, from: number): number {
    return this.table.fit(b, from, this.room(part, this.maxLength - part.length));
  }

  fill(part: Part, b: number, from: number, to: number): number {
    const length = part.length + this.separatorFor(part) + this.lengthOf(b, from, to);
    return Math.max(length / this.maxLength, this.entityFill(part, b, from, to));
  }

  protected lengthOf(b: number, from: number, to: number): number {
    return this.table.measureOf(b, from, to);
  }
}

/**
 * The generic path, for a measure that counts markup: candidate parts are serialised and measured,
 * the search bounded by the visible length (markup only adds to it, as in every chat format).
 */
export class SerialisingMeter extends BaseMeter {
  private readonly serialize: (runs: readonly Run[]) => string;

  constructor(table: RunTable, entities: EntityLimits | undefined, private readonly format: PlatformFormat) {
    super(table, Math.max(1, format.maxLength), entities, BLOCK_SEPARATOR.length);
    this.serialize = format.serialize ?? plainSerialize;
  }

  private measured(part: Part, b: number, from: number, to: number): number {
    return this.format.measure(this.serialize(this.runsOf(part, { block: b, from, to })));
  }

  limit(part: Part, b: number, from: number): number {
    const bound = this.table.fit(b, from, this.room(part, this.maxLength - part.length));
    if (bound <= from || this.measured(part, b, from, bound) <= this.maxLength) return bound;
    let fits = from;
    let over = bound;
    while (over - fits > 1) {
      const mid = (fits + over) >> 1;
      if (this.measured(part, b, from, mid) <= this.maxLength) fits = mid;
      else over = mid;
    }
    return fits;
  }

  fill(part: Part, b: number, from: number, to: number): number {
    return Math.max(this.measured(part, b, from, to) / this.maxLength, this.entityFill(part, b, from, to));
  }

  protected lengthOf(_b: number, from: number, to: number): number {
    return to - from;
  }
}
