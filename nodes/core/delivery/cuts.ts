/**
 * Where to cut a block that does not fit the part, best first: at a blank line, a line break, a
 * space — all outside code blocks; then at a line break or space inside a code block (which then
 * becomes several complete code blocks); at last anywhere, but never inside a grapheme cluster.
 * Within a tier the cut furthest along wins, if it leaves the part at least half full; a coarser
 * cut that would leave it emptier loses to a finer one.
 */
import { boundaryAtOrBefore, codePointBoundaryAtOrBefore, isGraphemeBoundary } from './graphemes';
import { isWhitespace, type RunTable } from './run-table';

/** A cut inside a block's visible text: the part keeps [from, end), the rest restarts at `resume`. */
export interface Cut {
  end: number;
  resume: number;
}

interface Tier {
  readonly newlines: boolean;
  readonly minRun: number;
  readonly inPre: boolean;
}

const TIERS: readonly Tier[] = [
  { newlines: true, minRun: 2, inPre: false },
  { newlines: true, minRun: 1, inPre: false },
  { newlines: false, minRun: 1, inPre: false },
  { newlines: true, minRun: 1, inPre: true },
  { newlines: false, minRun: 1, inPre: true },
];

function inTier(code: number, tier: Tier): boolean {
  return tier.newlines ? code === 10 : code === 32 || code === 9;
}

/**
 * The cut for block b's piece starting at `from` (a grapheme boundary), keeping at most [from,
 * limit): `limit` is the furthest end that fits the part. `fullEnough(end)` says whether the part
 * would then be full enough (it only grows with `end`). A hard cut is made only if `hardAllowed`
 * (the part is otherwise empty; a hard cut into a half-full part would be gratuitous).
 * Returns undefined when no cut suits (send the part as it is), and a cut with `end === from` when
 * the piece would hold only whitespace: skip to `resume`.
 */
export function findCut(
  table: RunTable,
  b: number,
  from: number,
  limit: number,
  fullEnough: (end: number) => boolean,
  hardAllowed: boolean,
): Cut | undefined {
  const text = table.text(b);
  let firstVisible = from;
  while (firstVisible < text.length && isWhitespace(text.charCodeAt(firstVisible))) firstVisible++;
  if (limit > from && fullEnough(limit)) {
    const floor = Math.max(firstVisible + 1, lowestFullEnough(from, limit, fullEnough));
    for (const tier of TIERS) {
      const cut = lastInTier(table, b, text, from, floor, limit, tier);
      if (cut) return cut;
    }
  }
  return hardAllowed ? hardCut(text, from, limit, firstVisible) : undefined;
}

/** The smallest end in (from, limit] that leaves the part full enough (fullEnough(limit) holds). */
function lowestFullEnough(from: number, limit: number, fullEnough: (end: number) => boolean): number {
  let lo = from + 1;
  let hi = limit;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (fullEnough(mid)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** The last cut of a tier in [floor, limit]: the start of a whitespace run the tier cuts at. */
function lastInTier(table: RunTable, b: number, text: string, from: number, floor: number, limit: number, tier: Tier): Cut | undefined {
  let i = Math.min(limit, text.length - 1);
  let run = table.runAt(b, i);
  for (; i >= floor; i--) {
    if (!inTier(text.charCodeAt(i), tier) || inTier(text.charCodeAt(i - 1), tier)) continue;
    while (table.runStart(run) > i) run--;
    if (table.isPre(run) !== tier.inPre) continue;
    let resume = i + 1;
    while (resume < text.length && inTier(text.charCodeAt(resume), tier)) resume++;
    if (resume - i < tier.minRun || !isGraphemeBoundary(text, i, from)) continue;
    // The whitespace goes, except a last space that a combining mark after it makes one cluster with.
    return { end: i, resume: boundaryAtOrBefore(text, resume, i) };
  }
  return undefined;
}

/** The longest piece that fits, moved back to a grapheme boundary (never half an emoji). */
function hardCut(text: string, from: number, limit: number, firstVisible: number): Cut {
  let end = boundaryAtOrBefore(text, limit, from);
  // One cluster longer than a whole part (a flood of combining marks): its code points are split
  // rather than the length exceeded; and if not one code point fits, one goes anyway.
  if (end <= from) end = codePointBoundaryAtOrBefore(text, limit);
  if (end <= from) end = Math.min(text.length, from + (codePointBoundaryAtOrBefore(text, from + 1) === from ? 2 : 1));
  if (end <= firstVisible) return { end: from, resume: firstVisible };
  return { end, resume: end };
}
