/** Plain text: the same layout with no markup, the fallback when a platform refuses the formatting. */
import type { AdditiveMeasure, PlatformFormat, Run } from './types';
import { plainSerialize } from './runs';

export function serializePlain(runs: readonly Run[]): string {
  return plainSerialize(runs);
}

/** UTF-16 code units, the unit Telegram, WhatsApp and JavaScript strings all count in. */
export function measurePlain(text: string): number {
  return text.length;
}

/** Plain text is all visible, so a part's length is the sum of its runs' lengths. */
const PLAIN_UTF16: AdditiveMeasure = { of: measurePlain, text: measurePlain };

/** No entities: plain text carries no formatting, so there is no entity limit to keep. */
export function plainFormat(maxLength: number, name = 'plain'): PlatformFormat {
  return { name, maxLength, measure: measurePlain, serialize: serializePlain, additiveMeasure: PLAIN_UTF16 };
}

export const PLAIN: PlatformFormat = plainFormat(4096);
