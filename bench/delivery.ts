/**
 * Delivery: render and split a 20 kB Markdown reply (headings, prose, links, lists, code blocks,
 * quotes, tables) for Telegram. Baseline: the same text cut naively every 4096 characters, which is
 * what a gateway without a renderer does (and which breaks code blocks and formatting).
 */
import { renderAndSplit, TELEGRAM_HTML } from '../nodes/core/delivery';
import { median, row, timeMs, type Row } from './lib';

const RUNS = 7;
const ITERATIONS = 50;

/** A deterministic ~20 kB agent reply. */
export function reply20k(): string {
  const words = 'the quick brown fox jumps over a lazy dog while agents stream replies to chats'.split(' ');
  let seed = 7;
  const rnd = (n: number): number => (seed = (seed * 1103515245 + 12345) % 2147483648) % n;
  const sentence = (): string => Array.from({ length: 8 + rnd(10) }, () => words[rnd(words.length)]).join(' ') + '.';
  const sections: string[] = [];
  for (let s = 0; sections.join('\n\n').length < 20000; s++) {
    sections.push(`## Section ${s}`);
    sections.push(Array.from({ length: 4 }, sentence).join(' ') + ` See [docs ${s}](https://example.com/s/${s}?a=1&b=2).`);
    sections.push(Array.from({ length: 5 }, (_, i) => `- item ${s}.${i} **${sentence()}**\n  - nested \`code ${i}\``).join('\n'));
    sections.push('```ts\n' + Array.from({ length: 6 + rnd(20) }, (_, i) => `const v${s}_${i} = a < b && c > d; // ${sentence()}`).join('\n') + '\n```');
    sections.push(`> ${sentence()}\n> ${sentence()}`);
    if (s % 3 === 0) sections.push(`| key | value |\n|---|---:|\n| a${s} | 1 |\n| b${s} | 22 |`);
  }
  return sections.join('\n\n');
}

function naiveSplit(text: string, limit: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += limit) out.push(text.slice(i, i + limit));
  return out;
}

export async function runDelivery(log: (s: string) => void): Promise<Row[]> {
  const md = reply20k();
  const subject: number[] = [];
  const baseline: number[] = [];
  let parts = 0;
  for (let r = 0; r < RUNS; r++) {
    subject.push(timeMs(() => { for (let i = 0; i < ITERATIONS; i++) parts = renderAndSplit(md, TELEGRAM_HTML).length; }).ms / ITERATIONS);
    baseline.push(timeMs(() => { for (let i = 0; i < ITERATIONS; i++) naiveSplit(md, 4096); }).ms / ITERATIONS);
  }
  log(`delivery: ${md.length} chars -> ${parts} Telegram messages`);
  return [row('delivery', `${(md.length / 1000).toFixed(1)} kB Markdown -> ${parts} Telegram parts`, 'render + split', 'µs per reply', median(subject) * 1000, median(baseline) * 1000)];
}
