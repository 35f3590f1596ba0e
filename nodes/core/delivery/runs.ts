/** Small operations on styled runs: the splitter cuts visible text, never markup. */
import type { Mark, Run } from './types';

export function sameMark(a: Mark, b: Mark): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind === 'link' && b.kind === 'link') return a.href === b.href;
  if (a.kind === 'pre' && b.kind === 'pre') return a.lang === b.lang;
  return true;
}

/** How many leading marks two mark lists share. */
export function commonPrefix(a: readonly Mark[], b: readonly Mark[]): number {
  let k = 0;
  while (k < a.length && k < b.length && sameMark(a[k], b[k])) k++;
  return k;
}

export function visibleText(runs: readonly Run[]): string {
  let text = '';
  for (const run of runs) text += run.text;
  return text;
}

/** The runs covering visible offsets [from, to) (UTF-16 units). */
export function sliceRuns(runs: readonly Run[], from: number, to: number): Run[] {
  const out: Run[] = [];
  let offset = 0;
  for (const run of runs) {
    const end = offset + run.text.length;
    if (end > from && offset < to) {
      const text = run.text.slice(Math.max(0, from - offset), Math.min(run.text.length, to - offset));
      if (text) out.push({ text, marks: run.marks });
    }
    offset = end;
    if (offset >= to) break;
  }
  return out;
}

/** The marks in force at visible offset `at` (those of the run holding that character). */
export function marksAt(runs: readonly Run[], at: number): readonly Mark[] {
  let offset = 0;
  for (const run of runs) {
    offset += run.text.length;
    if (at < offset) return run.marks;
  }
  return [];
}

export function plainSerialize(runs: readonly Run[]): string {
  return visibleText(runs);
}
