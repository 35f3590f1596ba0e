/**
 * Grapheme cluster boundaries, so a cut never splits what a reader sees as one character (a ZWJ
 * family, a flag, a skin-toned thumb, a letter with its accents).
 *
 * Whether offset i is a boundary depends on the code point right after it and on an unbounded
 * stretch before it (a run of regional indicators pairs up from its start; an emoji ZWJ sequence
 * joins from its first pictograph). So the text is segmented from a known boundary before the
 * offset through the code point after it, never from a window that ends at the offset.
 */

const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/**
 * True when `at` is certainly a boundary, without segmenting. Nothing below U+0300 joins the
 * cluster before it (marks, joiners and regional indicators all sit higher), except LF after CR
 * and the pictographs © and ® after a ZWJ; and the unit before may hold back a break only if it
 * is a Prepend character (Arabic number signs and a few Brahmic ones) or a CR.
 */
function cheapBoundary(text: string, at: number): boolean {
  const after = text.charCodeAt(at);
  if (after >= 0x300 || after === 0xa9 || after === 0xae) return false;
  const before = text.charCodeAt(at - 1);
  if (before < 0x300) return !(before === 13 && after === 10);
  return !mayBePrepend(text, at - 1, before);
}

/** Prepend characters live in U+0600-08FF, U+0D4E and U+11000-11FFF (surrogates D804-D807). */
function mayBePrepend(text: string, i: number, unit: number): boolean {
  if ((unit >= 0x600 && unit <= 0x8ff) || unit === 0xd4e) return true;
  if (unit < 0xdc00 || unit > 0xdfff) return false;
  const high = text.charCodeAt(i - 1);
  return high >= 0xd804 && high <= 0xd807;
}

/** A boundary in [from, at], close to `at` when one is cheap to find. */
function knownBoundaryBefore(text: string, at: number, from: number): number {
  for (let j = at; j > from; j--) if (cheapBoundary(text, j)) return j;
  return from;
}

/** Is `at` a grapheme boundary of `text`? `from` is a boundary known to be at or before it (0 always is). */
export function isGraphemeBoundary(text: string, at: number, from = 0): boolean {
  if (at <= 0 || at >= text.length) return true;
  if (cheapBoundary(text, at)) return true;
  return boundaryAtOrBefore(text, at, from) === at;
}

/**
 * The last grapheme boundary in (from, at]; `from` (a known boundary) when the cluster holding
 * `at` starts at or before it.
 */
export function boundaryAtOrBefore(text: string, at: number, from = 0): number {
  if (at <= from) return from;
  if (at >= text.length) return text.length;
  if (cheapBoundary(text, at)) return at;
  const start = knownBoundaryBefore(text, at - 1, from);
  // Through the code point after `at`: it decides whether `at` joins the cluster before it.
  const end = Math.min(text.length, at + 2);
  const segment = segmenter.segment(text.slice(start, end)).containing(at - start);
  const boundary = segment ? start + segment.index : at;
  return boundary > from ? boundary : from;
}

/** The last code point boundary at or before `at` (never between the halves of a surrogate pair). */
export function codePointBoundaryAtOrBefore(text: string, at: number): number {
  const code = text.charCodeAt(at);
  const before = text.charCodeAt(at - 1);
  return code >= 0xdc00 && code <= 0xdfff && before >= 0xd800 && before <= 0xdbff ? at - 1 : at;
}
