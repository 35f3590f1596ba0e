/**
 * Renders Markdown and splits it into parts that each fit the platform's limit, measured on the
 * rendered text the way the platform measures it. The cut is made on styled runs and every part is
 * serialised on its own, so each part is valid markup; tags never straddle two parts.
 *
 * Where to cut, best first: between top-level blocks; then, inside a block too long for a message,
 * at a blank line, a line break, a space — all outside code blocks; then at a line break or space
 * inside a code block (which then becomes several complete code blocks); at last anywhere, but never
 * inside a surrogate pair or a grapheme cluster. Parts are filled greedily, so the first part is as
 * full as the rules allow.
 */
import { parseMarkdown } from './markdown';
import { layoutBlocks, type LayoutOptions } from './layout';
import { plainSerialize, sliceRuns, visibleText } from './runs';
import type { PlatformFormat, RenderedPart, Run } from './types';

export const BLOCK_SEPARATOR = '\n\n';
const SEPARATOR: Run = { text: BLOCK_SEPARATOR, marks: [] };

/** A cut inside a block's visible text: the part keeps [0, end), the rest restarts at `resume`. */
interface Cut {
  end: number;
  resume: number;
}

/** A cut at a coarser boundary is taken only if it leaves the part at least this full. */
const MIN_FILL = 0.5;

const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

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
  return blocks.flatMap((block, i) => (i ? [SEPARATOR, ...block] : block));
}

/**
 * Packs blocks into parts within `format.maxLength`. Assumes, as for every chat format, that the
 * measured length is at least the visible text length (markup only adds), which bounds the search.
 */
export function splitBlocks(blocks: readonly Run[][], format: PlatformFormat): Run[][] {
  const serialize = format.serialize ?? plainSerialize;
  const max = Math.max(1, format.maxLength);
  const size = (runs: readonly Run[]): number => format.measure(serialize(runs));
  const parts: Run[][] = [];
  let current: Run[] = [];
  const withBlock = (block: readonly Run[]): Run[] => (current.length ? [...current, SEPARATOR, ...block] : [...block]);

  for (let block of blocks) {
    while (block.length) {
      const joined = withBlock(block);
      if (size(joined) <= max) {
        current = joined;
        break;
      }
      if (current.length && size(block) <= max) {
        // Block boundaries first: a block that fits a message of its own is never cut.
        parts.push(current);
        current = block;
        break;
      }
      const cut = findCut(current, block, { max, size, hardAllowed: !current.length });
      if (!cut) {
        parts.push(current);
        current = [];
        continue;
      }
      parts.push(withBlock(sliceRuns(block, 0, cut.end)));
      current = [];
      const rest = sliceRuns(block, cut.resume, Infinity);
      block = visibleText(rest).trim() ? rest : [];
    }
  }
  if (current.length) parts.push(current);
  return parts;
}

interface CutLimits {
  max: number;
  size: (runs: readonly Run[]) => number;
  /** Only when the part is otherwise empty: a hard cut into a half-full part would be gratuitous. */
  hardAllowed: boolean;
}

function findCut(current: readonly Run[], block: readonly Run[], limits: CutLimits): Cut | undefined {
  const { max, size } = limits;
  // Markup only adds to the measure, so no prefix longer than `max` visible units can fit.
  const window = visibleText(sliceRuns(block, 0, max + 1));
  const inPre = preMap(block, window.length);
  const fits = (end: number): boolean =>
    size(current.length ? [...current, SEPARATOR, ...sliceRuns(block, 0, end)] : sliceRuns(block, 0, end)) <= max;
  const fullEnough = (end: number): boolean =>
    size(current.length ? [...current, SEPARATOR, ...sliceRuns(block, 0, end)] : sliceRuns(block, 0, end)) >= max * MIN_FILL;

  for (const tier of tiers(window, inPre)) {
    const cut = largestFitting(tier, fits);
    if (cut && fullEnough(cut.end)) return cut;
  }
  if (!limits.hardAllowed) return undefined;
  return hardCut(window, fits);
}

/** Candidate cuts by preference, each list in ascending order, none leaving an empty or blank part. */
function tiers(text: string, inPre: boolean[]): Cut[][] {
  const collect = (pattern: RegExp, wantPre: boolean): Cut[] => {
    const cuts: Cut[] = [];
    for (const match of text.matchAll(pattern)) {
      const end = match.index;
      if (end === 0 || inPre[end] !== wantPre || !text.slice(0, end).trim()) continue;
      cuts.push({ end, resume: end + match[0].length });
    }
    return cuts;
  };
  return [
    collect(/\n{2,}/g, false),
    collect(/\n+/g, false),
    collect(/[ \t]+/g, false),
    collect(/\n+/g, true),
    collect(/[ \t]+/g, true),
  ];
}

/** Per visible offset: is this character inside a code block? */
function preMap(block: readonly Run[], length: number): boolean[] {
  const map: boolean[] = [];
  for (const run of block) {
    const pre = run.marks.some((mark) => mark.kind === 'pre');
    for (let i = 0; i < run.text.length && map.length < length; i++) map.push(pre);
    if (map.length >= length) break;
  }
  return map;
}

function largestFitting(cuts: readonly Cut[], fits: (end: number) => boolean): Cut | undefined {
  let lo = 0;
  let hi = cuts.length - 1;
  let best: Cut | undefined;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (fits(cuts[mid].end)) {
      best = cuts[mid];
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return best;
}

/** The longest prefix that fits, moved back to a grapheme boundary (never half an emoji). */
function hardCut(text: string, fits: (end: number) => boolean): Cut {
  let lo = 1;
  let hi = text.length;
  let end = 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (fits(mid)) {
      end = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  const segment = graphemes.segment(text).containing(end);
  if (segment && segment.index > 0 && segment.index < end) end = segment.index;
  // A single grapheme wider than the limit: still never split a surrogate pair.
  if (isLowSurrogate(text.charCodeAt(end)) && isHighSurrogate(text.charCodeAt(end - 1))) end = end > 1 ? end - 1 : end + 1;
  return { end, resume: end };
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}
