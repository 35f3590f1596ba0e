/** Plain text: the same layout with no markup, the fallback when a platform refuses the formatting. */
import type { PlatformFormat, Run } from './types';
import { plainSerialize } from './runs';

export function serializePlain(runs: readonly Run[]): string {
  return plainSerialize(runs);
}

/** UTF-16 code units, the unit Telegram, WhatsApp and JavaScript strings all count in. */
export function measurePlain(text: string): number {
  return text.length;
}

export function plainFormat(maxLength: number, name = 'plain'): PlatformFormat {
  return { name, maxLength, measure: measurePlain, serialize: serializePlain };
}

export const PLAIN: PlatformFormat = plainFormat(4096);
