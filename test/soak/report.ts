/**
 * The soak's printout: the counts per channel and in total, the run's figures, the faults with
 * when they fired, and the reasons behind every reported failure and fallback. Also the list of
 * what must be zero, shared by the bench (exit code) and the test (assertions).
 */
import type { ChannelCounts } from './ledger';
import type { SoakResult } from './scenario';

const COLUMNS: Array<[keyof ChannelCounts, string]> = [
  ['sent', 'sent'],
  ['accepted', 'taken'],
  ['answered', 'answered'],
  ['fallback', 'fallback'],
  ['reportedFailed', 'reported failed'],
  ['lost', 'lost'],
  ['notTaken', 'not taken'],
  ['doubled', 'doubled'],
  ['truncated', 'truncated'],
  ['wrongChat', 'wrong chat'],
  ['wrongThread', 'wrong thread'],
  ['orderViolations', 'order'],
  ['stray', 'stray'],
];

/** Counts that must be zero: from the users' side nothing lost, doubled, cut, misplaced or out of order. */
export const MUST_BE_ZERO: Array<keyof ChannelCounts> = ['lost', 'notTaken', 'doubled', 'truncated', 'wrongChat', 'wrongThread', 'orderViolations', 'stray'];

export const HEAP_MARGIN_BYTES = 30 * 2 ** 20;

const mb = (n: number) => `${(n / 2 ** 20).toFixed(1)} MB`;

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`;
  return [line(head), `| ${widths.map((w, i) => (i === 0 ? '-'.repeat(w) : `${'-'.repeat(w - 1)}:`)).join(' | ')} |`, ...rows.map(line)].join('\n');
}

/** Everything that must hold, as sentences naming what did not. */
export function problems(r: SoakResult): string[] {
  const out: string[] = [];
  for (const key of MUST_BE_ZERO) if (r.totals[key] > 0) out.push(`${key}: ${r.totals[key]} (e.g. ${(r.examples[key === 'orderViolations' ? 'order' : key] ?? []).join(', ')})`);
  if (r.heapAfter - r.heapBefore > HEAP_MARGIN_BYTES) out.push(`heap grew by ${mb(r.heapAfter - r.heapBefore)} (margin ${mb(HEAP_MARGIN_BYTES)})`);
  if (r.unhandled.nodeRed.length) out.push(`Node-RED unhandled: ${r.unhandled.nodeRed.join('\n')}`);
  if (r.unhandled.soak.length) out.push(`soak process unhandled: ${r.unhandled.soak.join('\n')}`);
  for (const f of r.faults) {
    if (f.firedAtMs === undefined) out.push(`fault never fired: ${f.name}`);
    if (f.error) out.push(`fault failed: ${f.name}: ${f.error}`);
  }
  return out;
}

export function formatSoak(r: SoakResult): string {
  const names = Object.keys(r.counts);
  const rows = names.map((n) => [n, ...COLUMNS.map(([k]) => String(r.counts[n as keyof typeof r.counts][k]))]);
  rows.push(['total', ...COLUMNS.map(([k]) => String(r.totals[k]))]);
  const lines: string[] = [];
  lines.push(table(['channel', ...COLUMNS.map(([, h]) => h)], rows));
  lines.push('');
  lines.push(`messages: ${r.messages} from ${r.users} users; wall time ${(r.wallMs / 1000).toFixed(1)} s; ${r.messagesPerSecond.toFixed(1)} messages/s`);
  lines.push(`Node-RED heap used after GC: before ${mb(r.heapBefore)}, after ${mb(r.heapAfter)} (${r.heapAfter >= r.heapBefore ? '+' : ''}${mb(r.heapAfter - r.heapBefore)}; margin +${mb(HEAP_MARGIN_BYTES)}); rss after ${mb(r.rssAfter)}`);
  lines.push(`unhandled rejections / uncaught exceptions: Node-RED ${r.unhandled.nodeRed.length}, soak process ${r.unhandled.soak.length}`);
  lines.push(`messages taken with no sign of a reply at the end: ${r.unsettled}`);
  lines.push('');
  lines.push('faults (fired once, when the share of messages sent passed the point):');
  for (const f of r.faults) lines.push(`  ${(f.at * 100).toFixed(0).padStart(3)}%  ${f.firedAtMs === undefined ? 'never fired' : `at ${(f.firedAtMs / 1000).toFixed(1)} s`}${f.name.includes('redeploy') && f.tookMs !== undefined ? ` (new flows started ${((f.tookMs ?? 0) / 1000).toFixed(1)} s later)` : ''}${f.error ? ` FAILED: ${f.error}` : ''}  ${f.name}`);
  lines.push('');
  lines.push('reported to the Catch node (source: message x count):');
  if (!r.reasons.length) lines.push('  nothing');
  for (const e of r.reasons.slice(0, 25)) lines.push(`  ${e.source}: ${e.message} x ${e.count}`);
  lines.push('');
  lines.push('what each side saw:');
  for (const [name, notes] of Object.entries(r.notes)) lines.push(`  ${name}: ${Object.entries(notes).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  if (r.logProblems.length) {
    lines.push('');
    lines.push(`Node-RED warnings and errors (${r.logProblems.reduce((n, p) => n + p.count, 0)} lines, ${r.logProblems.length} kinds; the most frequent):`);
    for (const p of r.logProblems.slice(0, 15)) lines.push(`  ${p.count} x ${p.line}`);
  }
  const traced = Object.entries(r.traces ?? {});
  if (traced.length) {
    lines.push('');
    lines.push('traces:');
    for (const [k, v] of traced) lines.push(`  ${k}:\n    ${v.join('\n    ')}`);
  }
  const shown = Object.entries(r.examples).filter(([, v]) => v.length);
  if (shown.length) {
    lines.push('');
    lines.push('examples:');
    for (const [k, v] of shown) lines.push(`  ${k}: ${v.join(', ')}`);
  }
  return lines.join('\n');
}
