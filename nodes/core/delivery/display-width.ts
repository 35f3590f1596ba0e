/**
 * How many monospace columns a string takes, for lining up table columns in a code block.
 *
 * Hand-written on purpose: the well-kept libraries (string-width, get-east-asian-width) are ESM
 * only, and dist/ is CommonJS loaded by Node-RED on Node 20, where `require()` of an ES module is
 * not available. This is the small part of them a chat table needs.
 *
 * Rules, per grapheme cluster (what a reader sees as one character):
 * - an emoji cluster is 2: one with an Emoji_Presentation code point (😀, a flag, skin tones, most
 *   ZWJ sequences), or a pictograph turned into an emoji by VS16 (U+FE0F: ❤️, 1️⃣). A text-style
 *   pictograph without VS16 (©, ™, ↔) is 1, as monospace fonts draw it, and so is a lone regional
 *   indicator (half a flag);
 * - otherwise the cluster's first code point decides: East Asian Wide or Fullwidth is 2 (ranges
 *   below), a control, format character (ZWJ, ZWSP, BOM), default-ignorable code point or a mark
 *   with no base is 0, anything else 1 (East Asian Ambiguous counts narrow, as outside CJK locales);
 * - what follows the first code point inside a cluster (combining marks, ZWJ, variation selectors,
 *   Hangul vowel and final jamo) adds nothing.
 */

/**
 * East Asian Width W and F from Unicode's EastAsianWidth.txt (Unicode 17), without the emoji the
 * Emoji_Presentation test already counts. Pairs of [first, last] code points, in ascending order.
 */
const WIDE: ReadonlyArray<readonly [number, number]> = [
  [0x1100, 0x115f], // Hangul Jamo initial consonants
  [0x2329, 0x232a], // angle brackets
  [0x2630, 0x2637], // trigrams
  [0x268a, 0x268f], // monograms and digrams
  [0x2e80, 0x2e99], // CJK Radicals Supplement
  [0x2e9b, 0x2ef3],
  [0x2f00, 0x2fd5], // Kangxi Radicals
  [0x2ff0, 0x303e], // Ideographic Description Characters, CJK Symbols and Punctuation (U+3000 is F)
  [0x3041, 0x3096], // Hiragana
  [0x3099, 0x30ff], // Hiragana marks, Katakana
  [0x3105, 0x312f], // Bopomofo
  [0x3131, 0x318e], // Hangul Compatibility Jamo
  [0x3190, 0x31e5], // Kanbun, Bopomofo Extended, CJK Strokes
  [0x31ef, 0x321e], // Katakana Phonetic Extensions, Enclosed CJK
  [0x3220, 0x3247],
  [0x3250, 0xa48c], // Enclosed CJK, CJK Compatibility, CJK Extension A, Yijing (W since Unicode 16), CJK Unified, Yi
  [0xa490, 0xa4c6], // Yi Radicals
  [0xa960, 0xa97c], // Hangul Jamo Extended-A
  [0xac00, 0xd7a3], // Hangul Syllables
  [0xf900, 0xfaff], // CJK Compatibility Ideographs
  [0xfe10, 0xfe19], // Vertical Forms
  [0xfe30, 0xfe52], // CJK Compatibility Forms, Small Form Variants
  [0xfe54, 0xfe66],
  [0xfe68, 0xfe6b],
  [0xff01, 0xff60], // Fullwidth Forms
  [0xffe0, 0xffe6], // Fullwidth signs
  [0x16fe0, 0x16fe4], // Ideographic Symbols and Punctuation
  [0x16ff0, 0x16ff6],
  [0x17000, 0x18cda], // Tangut, Tangut Components, Khitan Small Script
  [0x18cff, 0x18d20], // Tangut Supplement
  [0x18d80, 0x18df2],
  [0x18e00, 0x19191],
  [0x191a0, 0x191d2],
  [0x1aff0, 0x1aff3], // Kana Extended-B
  [0x1aff5, 0x1affb],
  [0x1affd, 0x1affe],
  [0x1b000, 0x1b128], // Kana Supplement, Kana Extended-A
  [0x1b132, 0x1b132], // Small Kana Extension
  [0x1b150, 0x1b152],
  [0x1b155, 0x1b155],
  [0x1b164, 0x1b168],
  [0x1b170, 0x1b2fb], // Nushu
  [0x1d300, 0x1d356], // Tai Xuan Jing Symbols
  [0x1d360, 0x1d376], // Counting Rod Numerals
  [0x1f1ae, 0x1f1ae],
  [0x1f200, 0x1f202], // Enclosed Ideographic Supplement (the rest of it is emoji)
  [0x1f210, 0x1f23b],
  [0x1f240, 0x1f248],
  [0x1f260, 0x1f265],
  [0x1f6d9, 0x1f6d9], // emoji newer than the regex engine's Unicode
  [0x1f7da, 0x1f7da],
  [0x1fa8b, 0x1fa8d],
  [0x1facc, 0x1facc],
  [0x1fadd, 0x1fadd],
  [0x1faeb, 0x1faeb],
  [0x1faf9, 0x1fafa],
  [0x20000, 0x2fffd], // CJK Extensions B-F, Compatibility Supplement (plane 2)
  [0x30000, 0x3fffd], // CJK Extensions G-J (plane 3)
];

const EMOJI_PRESENTATION = /\p{Emoji_Presentation}/u;
const EMOJI_BY_VS16 = /\p{Emoji}\uFE0F/u;
const ZERO_WIDTH = /^[\p{Cc}\p{Cf}\p{M}\p{Default_Ignorable_Code_Point}]/u;
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

export function isWideCodePoint(code: number): boolean {
  if (code < 0x1100) return false;
  let lo = 0;
  let hi = WIDE.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const [first, last] = WIDE[mid];
    if (code < first) hi = mid - 1;
    else if (code > last) lo = mid + 1;
    else return true;
  }
  return false;
}

/** Columns of one grapheme cluster. */
export function clusterWidth(cluster: string): number {
  if (!cluster) return 0;
  const first = cluster.codePointAt(0) ?? 0;
  if (first >= 0x20 && first < 0x7f && cluster.length === 1) return 1;
  // A flag is a pair of regional indicators; one alone shows as a single boxed letter.
  if (first >= 0x1f1e6 && first <= 0x1f1ff && cluster.length === 2) return 1;
  if (EMOJI_PRESENTATION.test(cluster) || EMOJI_BY_VS16.test(cluster)) return 2;
  if (ZERO_WIDTH.test(cluster)) return 0;
  return isWideCodePoint(first) ? 2 : 1;
}

/** Columns of a string on one line (a line break counts nothing). */
export function displayWidth(text: string): number {
  if (PRINTABLE_ASCII.test(text)) return text.length;
  let width = 0;
  for (const { segment } of graphemes.segment(text)) width += clusterWidth(segment);
  return width;
}
