/** Small shared helpers for the benchmarks: timing, medians, memory after GC, the results table. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

export function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (!g) throw new Error('run the benchmarks with node --expose-gc (npm run bench does)');
  g();
  g();
}

export function heapUsed(): number {
  gc();
  return process.memoryUsage().heapUsed;
}

export function timeMs<T>(fn: () => T): { ms: number; value: T } {
  const t0 = process.hrtime.bigint();
  const value = fn();
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, value };
}

export async function timeMsAsync<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = process.hrtime.bigint();
  const value = await fn();
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, value };
}

/** One row of the results: a subject's figure beside its baseline's, with the ratio. */
export interface Row {
  bench: string;
  case: string;
  metric: string;
  unit: string;
  subject: number;
  baseline: number | null;
  /** subject / baseline (for a throughput, > 1 means the subject is faster). */
  ratio: number | null;
  target?: string;
}

export function row(bench: string, kase: string, metric: string, unit: string, subject: number, baseline: number | null, target?: string): Row {
  return { bench, case: kase, metric, unit, subject, baseline, ratio: baseline ? subject / baseline : null, ...(target ? { target } : {}) };
}

export function fmt(n: number | null): string {
  if (n === null) return '-';
  if (Math.abs(n) >= 1000) return Math.round(n).toLocaleString('en-US');
  if (Math.abs(n) >= 10) return n.toFixed(1);
  return n.toFixed(2);
}

export function table(rows: Row[]): string {
  const head = ['bench', 'case', 'metric', 'subject', 'baseline', 'ratio', 'target'];
  const body = rows.map((r) => [r.bench, r.case, `${r.metric} (${r.unit})`, fmt(r.subject), fmt(r.baseline), r.ratio === null ? '-' : `${r.ratio.toFixed(2)}x`, r.target ?? '']);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [line(head), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...body.map(line)].join('\n');
}
