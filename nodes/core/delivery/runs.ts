/** Small operations on styled runs: the splitter cuts visible text, never markup. */
import type { Mark, Run } from './types';

export function sameMark(a: Mark, b: Mark): boolean {
  if (a === b) return true;
  if (a.kind !== b.kind) return false;
  if (a.kind === 'link' && b.kind === 'link') return a.href === b.href;
  if (a.kind === 'pre' && b.kind === 'pre') return a.lang === b.lang;
  return true;
}

/** How many leading marks two mark lists share. */
export function commonPrefix(a: readonly Mark[], b: readonly Mark[]): number {
  if (a === b) return a.length;
  let k = 0;
  while (k < a.length && k < b.length && sameMark(a[k], b[k])) k++;
  return k;
}

export function visibleText(runs: readonly Run[]): string {
  let text = '';
  for (const run of runs) text += run.text;
  return text;
}

export function plainSerialize(runs: readonly Run[]): string {
  return visibleText(runs);
}
