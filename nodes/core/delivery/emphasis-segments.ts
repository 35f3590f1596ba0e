/**
 * Shared by the renderers whose emphasis is written as markers around text (Slack mrkdwn, Discord
 * Markdown): runs become segments of one style, with the whitespace at their edges split off (a
 * marker never sits on whitespace), and each styled segment gets the order its markers nest in.
 * Each renderer has its own bit values; it passes its emphasis bits in nesting preference order.
 */

export interface StyledSegment {
  text: string;
  mask: number;
  href: string | undefined;
  /** The part of a run between its edge whitespace: the only part markers go around. */
  core: boolean;
}

export const NO_EMPHASIS: readonly number[] = [];

/** Pushes `text` as its leading whitespace, its core and its trailing whitespace. */
export function pushSegments(segments: StyledSegment[], text: string, mask: number, href: string | undefined, isSpace: (code: number) => boolean): void {
  let start = 0;
  while (start < text.length && isSpace(text.charCodeAt(start))) start++;
  if (start === text.length) {
    segments.push({ text, mask, href, core: false });
    return;
  }
  let end = text.length;
  while (isSpace(text.charCodeAt(end - 1))) end--;
  if (start > 0) segments.push({ text: text.slice(0, start), mask, href, core: false });
  segments.push({ text: start || end < text.length ? text.slice(start, end) : text, mask, href, core: true });
  if (end < text.length) segments.push({ text: text.slice(end), mask, href, core: false });
}

/**
 * The emphasis marks of each core segment, outermost first: the one whose stretch started
 * earlier, then the one that ends later, then `emphasis` order. A stretch runs over consecutive
 * segments that carry the mark.
 */
export function emphasisOrders(segments: readonly StyledSegment[], emphasis: readonly number[]): Array<readonly number[]> {
  const n = segments.length;
  const any = emphasis.reduce((a, b) => a | b, 0);
  const starts = emphasis.map(() => new Int32Array(n));
  const ends = emphasis.map(() => new Int32Array(n));
  emphasis.forEach((kind, k) => {
    let start = -1;
    for (let i = 0; i <= n; i++) {
      const has = i < n && (segments[i].mask & kind) !== 0;
      if (has && start < 0) start = i;
      if (!has && start >= 0) {
        for (let j = start; j < i; j++) {
          starts[k][j] = start;
          ends[k][j] = i;
        }
        start = -1;
      }
    }
  });
  const orders: Array<readonly number[]> = new Array(n);
  for (let i = 0; i < n; i++) {
    const mask = segments[i].mask;
    if (!segments[i].core || !(mask & any)) {
      orders[i] = NO_EMPHASIS;
      continue;
    }
    const present: number[] = [];
    for (let k = 0; k < emphasis.length; k++) if (mask & emphasis[k]) present.push(k);
    present.sort((a, b) => starts[a][i] - starts[b][i] || ends[b][i] - ends[a][i] || a - b);
    orders[i] = present.map((k) => emphasis[k]);
  }
  return orders;
}
