/**
 * Renders Markdown and splits it into parts that each fit the platform's limits — its length,
 * measured on the rendered text the way the platform measures it, and its entity count and size.
 * The cut is made on styled runs and every part is serialised on its own, so each part is valid
 * markup; tags never straddle two parts.
 *
 * Parts are filled greedily, so the first part is as full as the rules allow: whole blocks first (a
 * block that fits a message of its own is never cut), then a cut inside the block, as cuts.ts
 * prefers. The work is linear in the reply: the run table gives any piece's length and entities
 * from running totals, so no candidate part is serialised unless the format's measure counts markup.
 */
import { parseMarkdown } from './markdown';
import { layoutBlocks, type LayoutOptions } from './layout';
import { plainSerialize } from './runs';
import { RunTable, type EntityLimits } from './run-table';
import { findCut } from './cuts';
import { AdditiveMeter, BLOCK_SEPARATOR, Part, SEPARATOR, SerialisingMeter, type Meter } from './meter';
import type { PlatformFormat, RenderedPart, Run } from './types';

export { BLOCK_SEPARATOR };

/** A cut at a coarser boundary is taken only if it leaves the part at least this full. */
const MIN_FILL = 0.5;

/** Markdown to top-level blocks of styled runs (no splitting). */
export function renderBlocks(markdown: string, opts?: LayoutOptions): Run[][] {
  return layoutBlocks(parseMarkdown(markdown), opts);
}

export function renderAndSplit(markdown: string, format: PlatformFormat): RenderedPart[] {
  return splitBlocks(renderBlocks(markdown), format).map((runs) => toPart(runs, format));
}

/** The whole reply as one part, for platforms or previews that do not need splitting. */
export function renderWhole(markdown: string, format: PlatformFormat): RenderedPart {
  const runs = joinBlocks(renderBlocks(markdown));
  return toPart(runs, format);
}

export function toPart(runs: readonly Run[], format: PlatformFormat): RenderedPart {
  return { text: (format.serialize ?? plainSerialize)(runs), plain: plainSerialize(runs) };
}

export function joinBlocks(blocks: readonly Run[][]): Run[] {
  const runs: Run[] = [];
  blocks.forEach((block, i) => {
    if (i) runs.push(SEPARATOR);
    for (const run of block) runs.push(run);
  });
  return runs;
}

/** Packs blocks into parts within the format's limits. */
export function splitBlocks(blocks: readonly Run[][], format: PlatformFormat): Run[][] {
  const entities = entityLimits(format);
  const prepared = normalizeBlocks(blocks, format).filter((block) => block.length);
  const additive = format.additiveMeasure?.of === format.measure ? format.additiveMeasure : undefined;
  const measureText = additive && additive.text.bind(additive);
  const table = new RunTable(prepared, entities, measureText);
  const maxLength = Math.max(1, format.maxLength);
  const meter: Meter = measureText ? new AdditiveMeter(table, maxLength, entities, measureText) : new SerialisingMeter(table, entities, format);
  return pack(table, meter).map((part) => meter.runsOf(part));
}

/**
 * The blocks as the platform will write them. Normalised as one reply, not block by block: the
 * platform's rules look at neighbours (Telegram's line-break rule), and a block's first or last
 * line break has the separator as its neighbour. Cut back into blocks by visible offsets, which
 * normalising keeps.
 */
function normalizeBlocks(blocks: readonly Run[][], format: PlatformFormat): readonly (readonly Run[])[] {
  const normalize = format.normalize;
  if (!normalize) return blocks.map((block) => block.filter((run) => run.text));
  const joined = joinBlocks(blocks);
  const normalized = normalize(joined);
  if (normalized === joined) return blocks;
  const out: Run[][] = blocks.map(() => []);
  let b = 0;
  let blockEnd = visibleLength(blocks[0] ?? []);
  let offset = 0; // visible offset in the joined reply
  let blockStart = 0;
  for (const run of normalized) {
    let from = 0;
    while (from < run.text.length) {
      // Skip the separator after block b; move to the block holding this offset.
      while (offset + from >= blockEnd + BLOCK_SEPARATOR.length && b < blocks.length - 1) {
        blockStart = blockEnd + BLOCK_SEPARATOR.length;
        b++;
        blockEnd = blockStart + visibleLength(blocks[b]);
      }
      const at = offset + from;
      if (at >= blockEnd) {
        from = Math.min(run.text.length, blockEnd + BLOCK_SEPARATOR.length - offset);
        continue;
      }
      const to = Math.min(run.text.length, blockEnd - offset);
      out[b].push(from === 0 && to === run.text.length ? run : { text: run.text.slice(from, to), marks: run.marks });
      from = to;
    }
    offset += run.text.length;
  }
  return out;
}

function visibleLength(runs: readonly Run[]): number {
  let length = 0;
  for (const run of runs) length += run.text.length;
  return length;
}

function entityLimits(format: PlatformFormat): EntityLimits | undefined {
  const count = format.maxEntities ?? Infinity;
  const size = format.maxEntitySize ?? Infinity;
  if (count === Infinity && size === Infinity) return undefined;
  const sizeOf = format.entitySize?.bind(format) ?? (() => 1);
  return { count: Math.max(1, count), size: Math.max(1, size), sizeOf };
}

function pack(table: RunTable, meter: Meter): Part[] {
  const parts: Part[] = [];
  let part = new Part();
  const send = (): void => {
    parts.push(part);
    part = new Part();
  };
  for (let b = 0; b < table.blockCount; b++) {
    const end = table.blockLength(b);
    let from = 0;
    while (from < end) {
      const limit = meter.limit(part, b, from);
      if (limit === end) {
        meter.add(part, b, from, end);
        break;
      }
      // Block boundaries first: a block that fits a message of its own is never cut. (A part is
      // never left half-filled by a cut, so here the block is still whole: from === 0.)
      if (!part.empty && meter.limit(new Part(), b, from) === end) {
        send();
        meter.add(part, b, from, end);
        break;
      }
      const start = from;
      const current = part;
      const cut = findCut(table, b, from, limit, (to) => meter.fill(current, b, start, to) >= MIN_FILL, part.empty);
      if (!cut) {
        send();
        continue;
      }
      if (cut.end > from) {
        meter.add(part, b, from, cut.end);
        send();
      }
      from = cut.resume > table.lastVisible(b) ? end : cut.resume;
    }
  }
  if (!part.empty) parts.push(part);
  return parts;
}
